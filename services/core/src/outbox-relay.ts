import { headers } from "@nats-io/transport-node";
import type { Knex } from "knex";
import { runPrepared } from "./db/statements";
import { eventSubject, type EventStream } from "./event-stream";
import type { Logger } from "./logging";
import { outboxSafetyPollMs } from "./outbox-reader";
import { watchOutboxCommits, type CommitWatch } from "./outbox-signal";
import { Poller } from "./poller";

export interface OutboxRelayOptions {
  batchSize?: number;
  // How long a claimed row is this relay's; after that another relay retries it.
  leaseMs?: number;
  pollIntervalMs?: number;
  // Must stay well below leaseMs, so a relay never publishes a row it no longer holds.
  publishTimeoutMs?: number;
}

interface ClaimedRow {
  id: string;
  environment: "test" | "live";
  type: string;
  payload: Uint8Array;
  created_at: Date;
  traceparent: string | null;
}

// Mesh mode: publishes outbox rows to JetStream and marks them published once
// JetStream has acknowledged them. Relays claim rows with a lease (SKIP
// LOCKED, so concurrent relays take disjoint rows); a relay that dies keeps
// its rows until the lease runs out, then another publishes them again, and
// the event id as message id makes JetStream store that repeat once. A commit
// that adds events wakes it; the poll is a safety net.
export class OutboxRelay {
  private poller: Poller | undefined;
  private watch: CommitWatch | undefined;
  // While NATS is unreachable, publishes would only pile up in the client's
  // reconnect buffer; the relay waits for the reconnect instead.
  private connected = true;

  constructor(
    private readonly knex: Knex,
    private readonly stream: EventStream,
    private readonly logger: Logger,
    private readonly options: OutboxRelayOptions = {},
  ) {}

  start(): void {
    if (this.poller) return;
    this.poller = new Poller("outbox relay", () => this.relayBatch(), {
      intervalMs: this.options.pollIntervalMs ?? outboxSafetyPollMs,
      errorBackoffMs: 1000,
      logger: this.logger,
    });
    const poller = this.poller;
    this.watch = watchOutboxCommits(this.knex, () => poller.wake(), this.logger);
    void this.watchConnection();
    this.poller.start();
  }

  async stop(): Promise<void> {
    await this.watch?.close();
    this.watch = undefined;
    await this.poller?.stop();
  }

  // Publishes one claimed batch; true when the batch was full.
  async relayBatch(): Promise<boolean> {
    if (!this.connected) return false;
    const batchSize = this.options.batchSize ?? 100;
    const rows = await this.claim(batchSize);
    if (rows.length === 0) return false;
    rows.sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || a.id.localeCompare(b.id));
    const timeout = this.options.publishTimeoutMs ?? 5000;
    const results = await Promise.allSettled(
      rows.map((row) =>
        this.stream.jetstream.publish(eventSubject(row.environment, row.type), row.payload, { msgID: row.id, timeout, headers: traceHeaders(row) }),
      ),
    );
    const published = rows.filter((_, i) => results[i]?.status === "fulfilled").map((r) => r.id);
    const failed = rows.filter((_, i) => results[i]?.status === "rejected").map((r) => r.id);
    if (published.length > 0) await this.release(published, "published");
    if (failed.length > 0) {
      // Released at once so the retry need not wait for the lease.
      await this.release(failed, "failed");
      const reason = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      throw new Error(`${failed.length} of ${rows.length} events not published: ${(reason.reason as Error).message}`);
    }
    return rows.length === batchSize;
  }

  private async claim(limit: number): Promise<ClaimedRow[]> {
    const leaseMs = this.options.leaseMs ?? 30_000;
    // The database's clock decides leases, so relays on different hosts agree.
    const result = await runPrepared<ClaimedRow>(this.knex, {
      sql: `update outbox_events
          set relay_claimed_until = now() + ?::integer * interval '1 millisecond'
        where id in (
          select id from outbox_events
           where published_at is null
             and (relay_claimed_until is null or relay_claimed_until < now())
           order by created_at
           limit ?
           for update skip locked)
        returning id, environment, type, payload, created_at, traceparent`,
      bindings: [leaseMs, limit],
    });
    return result.rows;
  }

  private async watchConnection(): Promise<void> {
    for await (const status of this.stream.connection.status()) {
      if (status.type === "disconnect") this.connected = false;
      if (status.type === "reconnect") {
        this.connected = true;
        this.poller?.wake();
      }
    }
  }

  // Marks published rows as such, or hands failed ones (still unpublished)
  // back. One statement, so marking a batch is one round trip; the ids travel
  // as an array, so its text is one of two and is planned once per
  // connection. Rows are locked in id order, as fan-out locks them, so the
  // two never wait on each other in opposite orders (a deadlock).
  private async release(ids: string[], outcome: "published" | "failed") {
    const [change, condition] =
      outcome === "published" ? ["published_at = now(), relay_claimed_until = null", "true"] : ["relay_claimed_until = null", "published_at is null"];
    await runPrepared(this.knex, {
      sql: `update outbox_events set ${change}
             where id in (select id from outbox_events where id = any(?::text[]) and ${condition} order by id for update)`,
      bindings: [ids],
    });
  }
}

// The event's trace travels as the message's traceparent header.
function traceHeaders(row: ClaimedRow) {
  if (!row.traceparent) return undefined;
  const carried = headers();
  carried.set("traceparent", row.traceparent);
  return carried;
}
