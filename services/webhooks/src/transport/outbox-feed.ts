import { OutboxReader, type Knex, type Logger } from "@onerouter/core";
import type { EventFeed } from "./feed";
import { feedEventFrom, type EventHandler, type FeedEvent } from "./fanout";

// Embedded mode's feed: core's outbox reader hands over each claimed batch
// in its transaction; the events are decoded and fanned out in it.
export class OutboxFeed implements EventFeed {
  private readonly reader: OutboxReader;

  constructor(
    knex: Knex,
    private readonly logger: Logger,
    options: { batchSize?: number; pollIntervalMs?: number } = {},
  ) {
    this.reader = new OutboxReader(knex, logger, options);
  }

  async start(onEvents: EventHandler): Promise<void> {
    this.reader.start(async ({ trx, rows }) => {
      const events: FeedEvent[] = [];
      for (const row of rows) {
        const event = feedEventFrom(new Uint8Array(row.payload));
        if (event) events.push(row.traceparent ? { ...event, traceparent: row.traceparent } : event);
        else this.logger.error({ id: row.id }, "passing by an outbox row that is not an onerouter Event");
      }
      await onEvents(trx, events);
    });
  }

  async stop(): Promise<void> {
    await this.reader.stop();
  }
}
