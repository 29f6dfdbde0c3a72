import type { Knex, Logger } from "@onerouter/core";

export interface OutboxRetentionOptions {
  retentionDays: number;
  // In mesh mode an event must also have reached JetStream before it goes.
  requirePublished: boolean;
  intervalMs?: number;
  // Rows deleted per statement, so one prune never holds a long lock.
  batchSize?: number;
}

// Prunes outbox events older than the retention period, once they are fanned
// out (and, in mesh mode, published); their deliveries and attempts go with
// them by cascade. Runs at start and then periodically.
export class OutboxRetention {
  private timer: NodeJS.Timeout | undefined;
  private pruning: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly knex: Knex,
    private readonly logger: Logger,
    private readonly options: OutboxRetentionOptions,
  ) {}

  start(): void {
    if (this.timer) return;
    const run = () => {
      this.pruning = this.prune()
        .then((deleted) => {
          if (deleted > 0) this.logger.info({ deleted }, "pruned outbox events past retention");
        })
        .catch((err: unknown) => this.logger.error({ err }, "pruning outbox events failed"));
    };
    run();
    this.timer = setInterval(run, this.options.intervalMs ?? 3600_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.pruning;
  }

  // Returns the number of events deleted.
  async prune(now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - this.options.retentionDays * 86_400_000);
    const batchSize = this.options.batchSize ?? 1000;
    let total = 0;
    for (;;) {
      const expired = this.knex("outbox_events")
        .where("created_at", "<", cutoff)
        .whereNotNull("fanned_out_at")
        .modify((q) => {
          if (this.options.requirePublished) q.whereNotNull("published_at");
        })
        .limit(batchSize)
        .select("id");
      // Counted from the returned ids: PGlite's driver does not always report a row count.
      const deleted = await this.knex("outbox_events").whereIn("id", expired).delete().returning<{ id: string }[]>("id");
      total += deleted.length;
      if (deleted.length < batchSize) return total;
    }
  }
}
