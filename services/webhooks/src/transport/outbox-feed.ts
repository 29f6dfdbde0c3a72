import { Poller, type Knex, type Logger } from "@onerouter/core";
import type { EventFeed } from "./feed";
import { feedEventFrom, type EventHandler, type FeedEvent } from "./fanout";

// Embedded mode's feed: the producer-side reader of the outbox table, oldest
// first, since no relay publishes the events anywhere else. Each
// batch is claimed with FOR UPDATE SKIP LOCKED inside the transaction that
// fans it out, so several processes on one database take disjoint batches and
// a crashed one's claim ends with its connection.
export class OutboxFeed implements EventFeed {
  private poller: Poller | undefined;

  constructor(
    private readonly knex: Knex,
    private readonly logger: Logger,
    private readonly options: { batchSize?: number; pollIntervalMs?: number } = {},
  ) {}

  async start(onEvents: EventHandler): Promise<void> {
    const batchSize = this.options.batchSize ?? 100;
    this.poller ??= new Poller("outbox feed", () => this.claimAndHandle(onEvents, batchSize), {
      intervalMs: this.options.pollIntervalMs ?? 250,
      errorBackoffMs: 1000,
      logger: this.logger,
    });
    this.poller.start();
  }

  async stop(): Promise<void> {
    await this.poller?.stop();
  }

  // True when the batch was full, so more may be waiting. The rows handed
  // over are marked fanned out in the same transaction, which is how this
  // feed finds the next batch.
  private async claimAndHandle(onEvents: EventHandler, batchSize: number): Promise<boolean> {
    return this.knex.transaction(async (trx) => {
      const rows = await trx("outbox_events")
        .whereNull("fanned_out_at")
        .orderBy("created_at")
        .limit(batchSize)
        .forUpdate()
        .skipLocked()
        .select<{ id: string; payload: Uint8Array }[]>("id", "payload");
      if (rows.length === 0) return false;
      const events: FeedEvent[] = [];
      for (const row of rows) {
        const event = feedEventFrom(new Uint8Array(row.payload));
        if (event) events.push(event);
        else this.logger.error({ id: row.id }, "passing by an outbox row that is not an onerouter Event");
      }
      await onEvents(trx, events);
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
