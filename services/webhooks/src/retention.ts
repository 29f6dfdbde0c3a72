import { TableRetention, type Knex, type Logger, type RetentionOptions } from "@onerouter/core";

// Prunes webhooks' copies of events past the retention period; their
// deliveries and attempts go with them by cascade.
export class WebhookEventRetention extends TableRetention {
  constructor(knex: Knex, logger: Logger, options: RetentionOptions) {
    super(knex, logger, { table: "webhook_events", rows: "webhook events" }, options);
  }
}
