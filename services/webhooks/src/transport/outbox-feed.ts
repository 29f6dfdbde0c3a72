import { OutboxReader, type Knex, type Logger, type OutboxReaderOptions } from "@onerouter/core";
import type { EventFeed } from "./feed";
import { fanOutStatement, type DeliveryWaker, type FanOutAnswer } from "./fanout";

// Embedded mode's feed: core's outbox reader claims each batch in the
// statement that fans it out, so a pass over the outbox is one round trip.
export class OutboxFeed implements EventFeed {
  private readonly reader: OutboxReader;

  constructor(knex: Knex, logger: Logger, options: OutboxReaderOptions = {}) {
    this.reader = new OutboxReader(knex, logger, options);
  }

  async start(waker: DeliveryWaker): Promise<void> {
    this.reader.start<FanOutAnswer>({
      statement: () => fanOutStatement("claimed", new Date()),
      handled: ({ owed_to }) => {
        if (owed_to.length > 0) waker.wake(owed_to);
      },
    });
  }

  async stop(): Promise<void> {
    await this.reader.stop();
  }
}
