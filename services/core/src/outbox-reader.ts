import type { Knex } from "knex";
import type { Logger } from "./logging";
import { watchOutboxCommits, type CommitWatch } from "./outbox-signal";
import { Poller } from "./poller";

// How often outbox readers look without being woken.
export const outboxSafetyPollMs = 2000;

// A batch of outbox rows as stored: each payload a binary onerouter Event.
export interface OutboxBatch {
  trx: Knex.Transaction;
  // traceparent: the trace of the change that wrote the event, when traced.
  rows: { id: string; payload: Uint8Array; traceparent: string | null }[];
}

// Embedded mode's in-process reader of the outbox, oldest first, since no
// relay publishes the events anywhere else. Each batch is claimed with FOR
// UPDATE SKIP LOCKED and handed to the consumer inside the transaction that
// marks it fanned out, so several processes on one database take disjoint
// batches, a crashed one's claim ends with its connection, and only the
// outbox's own room writes its progress. A commit that adds events wakes it;
// the poll is a safety net.
export class OutboxReader {
  private poller: Poller | undefined;
  private watch: CommitWatch | undefined;

  constructor(
    private readonly knex: Knex,
    private readonly logger: Logger,
    private readonly options: { batchSize?: number; pollIntervalMs?: number } = {},
  ) {}

  start(onBatch: (batch: OutboxBatch) => Promise<void>): void {
    const batchSize = this.options.batchSize ?? 100;
    this.poller ??= new Poller("outbox feed", () => this.claimAndHand(onBatch, batchSize), {
      intervalMs: this.options.pollIntervalMs ?? outboxSafetyPollMs,
      errorBackoffMs: 1000,
      logger: this.logger,
    });
    const poller = this.poller;
    this.watch ??= watchOutboxCommits(this.knex, () => poller.wake(), this.logger);
    this.poller.start();
  }

  async stop(): Promise<void> {
    await this.watch?.close();
    this.watch = undefined;
    await this.poller?.stop();
  }

  // True when the batch was full, so more may be waiting.
  private async claimAndHand(onBatch: (batch: OutboxBatch) => Promise<void>, batchSize: number): Promise<boolean> {
    return this.knex.transaction(async (trx) => {
      const rows = await trx("outbox_events")
        .whereNull("fanned_out_at")
        .orderBy("created_at")
        .limit(batchSize)
        .forUpdate()
        .skipLocked()
        .select<OutboxBatch["rows"]>("id", "payload", "traceparent");
      if (rows.length === 0) return false;
      await onBatch({ trx, rows });
      await trx("outbox_events")
        .whereIn(
          "id",
          rows.map((r) => r.id),
        )
        .update({ fanned_out_at: new Date() });
      return rows.length === batchSize;
    });
  }
}
