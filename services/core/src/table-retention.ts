import type { Knex } from "knex";
import type { Logger } from "./logging";

export interface RetentionOptions {
  retentionDays: number;
  intervalMs?: number;
  // Rows deleted per statement, so one prune never holds a long lock.
  batchSize?: number;
}

export interface RetainedTable {
  table: string;
  // What the rows are, for the log.
  rows: string;
  // The primary key and the time a row's age counts from: id and created_at unless named.
  key?: string;
  timeColumn?: string;
  // Narrows the rows past retention to those whose work is done.
  done?: (query: Knex.QueryBuilder) => void;
}

// Prunes a table's rows whose created_at (or the time column named) is
// older than the retention period; rows hanging off them go by cascade.
// Runs at start and then periodically.
export class TableRetention {
  private timer: NodeJS.Timeout | undefined;
  private pruning: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly knex: Knex,
    private readonly logger: Logger,
    private readonly target: RetainedTable,
    private readonly options: RetentionOptions,
  ) {}

  start(): void {
    if (this.timer) return;
    const run = () => {
      this.pruning = this.prune()
        .then((deleted) => {
          if (deleted > 0) this.logger.info({ deleted }, `pruned ${this.target.rows} past retention`);
        })
        .catch((err: unknown) => this.logger.error({ err }, `pruning ${this.target.rows} failed`));
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

  // Returns the number of rows deleted.
  async prune(now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - this.options.retentionDays * 86_400_000);
    const batchSize = this.options.batchSize ?? 1000;
    const key = this.target.key ?? "id";
    let total = 0;
    for (;;) {
      const expired = this.knex(this.target.table)
        .where(this.target.timeColumn ?? "created_at", "<", cutoff)
        .modify((q) => this.target.done?.(q))
        .limit(batchSize)
        .select(key);
      // Counted from the returned keys: PGlite's driver does not always report a row count.
      const deleted = await this.knex(this.target.table).whereIn(key, expired).delete().returning<Record<string, string>[]>(key);
      total += deleted.length;
      if (deleted.length < batchSize) return total;
    }
  }
}
