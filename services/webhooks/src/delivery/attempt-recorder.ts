import type { Knex } from "@onerouter/core";

// Records finished attempts in batches: whatever finished while the previous
// batch was being written goes into the next one, in one transaction, so at
// low load an attempt is written at once and under load many share a commit.
// Each caller gets its own outcome; if a batch fails, its attempts are retried
// one by one, so one bad row does not keep the others unrecorded.

export class AttemptRecorder<Entry, Row> {
  private queue: { entry: Entry; resolve: (row: Row) => void; reject: (err: unknown) => void }[] = [];
  private writing: Promise<void> | undefined;

  constructor(
    private readonly knex: Knex,
    // Writes the entries in the transaction, returning a row per entry in order.
    private readonly write: (trx: Knex.Transaction, entries: Entry[]) => Promise<Row[]>,
    private readonly maxBatch: number,
  ) {}

  record(entry: Entry): Promise<Row> {
    return new Promise((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      this.writing ??= this.drain().finally(() => (this.writing = undefined));
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        const rows = await this.knex.transaction((trx) => this.write(trx, batch.map((b) => b.entry)));
        batch.forEach((b, i) => b.resolve(rows[i]!));
      } catch (err) {
        if (batch.length === 1) {
          batch[0]!.reject(err);
          continue;
        }
        for (const one of batch) {
          await this.knex
            .transaction((trx) => this.write(trx, [one.entry]))
            .then(
              ([row]) => one.resolve(row!),
              (oneErr: unknown) => one.reject(oneErr),
            );
        }
      }
    }
  }
}
