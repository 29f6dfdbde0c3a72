import type { Knex } from "knex";
import type { Logger } from "./logging";
import { TableRetention, type RetentionOptions } from "./table-retention";

export interface OutboxRetentionOptions extends RetentionOptions {
  // Mesh mode: an event is done once the relay published it to JetStream,
  // which carries it from there. Embedded mode: once the webhooks feed
  // fanned it out.
  requirePublished: boolean;
}

// Prunes outbox events past the retention period once they have left the
// outbox: published (mesh mode) or fanned out (embedded mode).
export class OutboxRetention extends TableRetention {
  constructor(knex: Knex, logger: Logger, options: OutboxRetentionOptions) {
    super(
      knex,
      logger,
      {
        table: "outbox_events",
        rows: "outbox events",
        done: (q) => q.whereNotNull(options.requirePublished ? "published_at" : "fanned_out_at"),
      },
      options,
    );
  }
}
