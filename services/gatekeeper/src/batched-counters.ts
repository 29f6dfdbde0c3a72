import type { Knex } from "@onerouter/core";

// Counts kept in a table without a row lock per request: increments add up
// in memory and flush() writes them, one additive upsert per batch, which
// also answers the table's total (with every other process's increments).
// Watched counters (a limit depends on them) with nothing to write are
// re-read on each flush while in use, so a count seen here lags the other
// processes' by at most one flush of theirs and one of ours.
export type CounterKey = Record<string, string | Date>;

export interface Counter {
  readonly key: CounterKey;
  // The table's count when last written or read.
  stored: number;
  // Added here, not yet written.
  pending: number;
  // Being written by the flush in progress.
  writing: number;
  usedAt: number;
  watched: boolean;
}

export function counted(counter: Counter): number {
  return counter.stored + counter.writing + counter.pending;
}

const batchSize = 500;

export class BatchedCounters {
  private readonly counters = new Map<string, Counter>();
  private readonly loading = new Map<string, Promise<Counter>>();
  // Flushes never overlap: a re-read must not race a write of the same row.
  private flushing: Promise<Counter[]> = Promise.resolve([]);

  constructor(
    private readonly knex: Knex,
    private readonly table: string,
    private readonly keyColumns: readonly string[],
    // A counter unused this long, with nothing to write, is forgotten.
    private readonly idleMs = 120_000,
  ) {}

  // The counter for `key`, read from the table the first time.
  async counter(key: CounterKey): Promise<Counter> {
    const id = this.idOf(key);
    const known = this.counters.get(id);
    if (known) {
      known.usedAt = Date.now();
      return known;
    }
    let loading = this.loading.get(id);
    if (!loading) {
      loading = this.read([key]).then(
        ([stored]) => {
          const counter: Counter = { key, stored: stored ?? 0, pending: 0, writing: 0, usedAt: Date.now(), watched: false };
          this.counters.set(id, counter);
          this.loading.delete(id);
          return counter;
        },
        (err: unknown) => {
          this.loading.delete(id);
          throw err;
        },
      );
      this.loading.set(id, loading);
    }
    return loading;
  }

  add(counter: Counter, amount = 1): void {
    counter.pending += amount;
  }

  // Writes what was added, re-reads what is in use, forgets what is idle;
  // answers the counters whose count it learned.
  flush(): Promise<Counter[]> {
    const run = this.flushing.then(() => this.flushOnce());
    this.flushing = run.catch(() => []);
    return run;
  }

  private async flushOnce(): Promise<Counter[]> {
    const now = Date.now();
    const toWrite: Counter[] = [];
    const toRead: Counter[] = [];
    for (const [id, counter] of this.counters) {
      if (counter.pending > 0) toWrite.push(counter);
      else if (now - counter.usedAt >= this.idleMs) this.counters.delete(id);
      else if (counter.watched) toRead.push(counter);
    }
    for (let i = 0; i < toWrite.length; i += batchSize) await this.write(toWrite.slice(i, i + batchSize));
    for (let i = 0; i < toRead.length; i += batchSize) {
      const batch = toRead.slice(i, i + batchSize);
      const stored = await this.read(batch.map((c) => c.key));
      batch.forEach((counter, j) => (counter.stored = stored[j] ?? 0));
    }
    return [...toWrite, ...toRead];
  }

  private async write(batch: Counter[]): Promise<void> {
    for (const counter of batch) {
      counter.writing = counter.pending;
      counter.pending = 0;
    }
    try {
      const rows = (await this.knex(this.table)
        .insert(batch.map((c) => ({ ...c.key, count: c.writing })))
        .onConflict([...this.keyColumns])
        .merge({ count: this.knex.raw("??.count + excluded.count", [this.table]) })
        .returning([...this.keyColumns, "count"])) as Record<string, unknown>[];
      const totals = new Map(rows.map((row) => [this.idOf(row), Number(row.count)]));
      for (const counter of batch) {
        counter.stored = totals.get(this.idOf(counter.key)) ?? counter.stored + counter.writing;
        counter.writing = 0;
      }
    } catch (err) {
      for (const counter of batch) {
        counter.pending += counter.writing;
        counter.writing = 0;
      }
      // A counter whose tenant or key is gone must not hold up the others:
      // one at a time, its increments are dropped, the rest kept.
      if (batch.length > 1 && isForeignKeyViolation(err)) {
        for (const counter of batch) await this.write([counter]).catch(() => undefined);
        return;
      }
      if (isForeignKeyViolation(err)) {
        batch[0]!.pending = 0;
        this.counters.delete(this.idOf(batch[0]!.key));
        return;
      }
      // Kept for the next flush.
      throw err;
    }
  }

  private async read(keys: CounterKey[]): Promise<(number | undefined)[]> {
    const rows = (await this.knex(this.table)
      .whereIn(
        [...this.keyColumns],
        keys.map((key) => this.keyColumns.map((column) => key[column]!)),
      )
      .select([...this.keyColumns, "count"])) as Record<string, unknown>[];
    const totals = new Map(rows.map((row) => [this.idOf(row), Number(row.count)]));
    return keys.map((key) => totals.get(this.idOf(key)));
  }

  private idOf(row: Record<string, unknown>): string {
    return this.keyColumns
      .map((column) => {
        const value = row[column];
        return value instanceof Date ? value.toISOString() : String(value);
      })
      .join("\u0000");
  }
}

function isForeignKeyViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === "23503";
}
