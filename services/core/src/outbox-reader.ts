import type { Knex } from "knex";
import { runPrepared } from "./db/statements";
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

  // True when the batch was full, so more may be waiting. The batch is
  // claimed and marked in one statement: the mark is undone with the
  // consumer's work if that fails, since both are in one transaction.
  private async claimAndHand(onBatch: (batch: OutboxBatch) => Promise<void>, batchSize: number): Promise<boolean> {
    return this.knex.transaction(async (trx) => {
      const { rows } = await runPrepared<OutboxBatch["rows"][number] & { created_at: Date }>(trx, {
        sql: `update "outbox_events" set fanned_out_at = ?
          where id in (
            select id from "outbox_events"
             where fanned_out_at is null
             order by created_at
             limit ?
             for update skip locked)
          returning id, payload, traceparent, created_at`,
        bindings: [new Date(), batchSize],
      });
      if (rows.length === 0) return false;
      // RETURNING keeps no order: the consumer gets the batch oldest first.
      rows.sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      await onBatch({ trx, rows: rows.map(({ id, payload, traceparent }) => ({ id, payload, traceparent })) });
      return rows.length === batchSize;
    });
  }
}
