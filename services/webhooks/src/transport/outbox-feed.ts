import { Poller, type Knex, type Logger } from "@onerouter/core";
import type { EventFeed } from "./feed";
import type { EventHandler, FeedEvent } from "./fanout";

// Embedded mode's feed: reads the outbox table directly, oldest first. Each
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

  // True when the batch was full, so more may be waiting.
  private async claimAndHandle(onEvents: EventHandler, batchSize: number): Promise<boolean> {
    return this.knex.transaction(async (trx) => {
      const rows = await trx("outbox_events")
        .whereNull("fanned_out_at")
        .orderBy("created_at")
        .limit(batchSize)
        .forUpdate()
        .skipLocked()
        .select<{ id: string; tenant_id: string; environment: FeedEvent["environment"]; type: string }[]>(
          "id",
          "tenant_id",
          "environment",
          "type",
        );
      if (rows.length === 0) return false;
      await onEvents(
        trx,
        rows.map((r) => ({ id: r.id, tenantId: r.tenant_id, environment: r.environment, type: r.type })),
      );
      return rows.length === batchSize;
    });
  }
}
