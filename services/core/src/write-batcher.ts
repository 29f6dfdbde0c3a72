// Writes entries in batches: whatever arrives while the previous batch is
// being written goes into the next one (at most maxBatch), so at low load an
// entry is written at once and under load many share one write. Each caller
// gets its own outcome; if a batch fails, its entries are retried one by
// one, so one bad entry does not keep the others unwritten.
export class WriteBatcher<Entry, Result> {
  private queue: { entry: Entry; resolve: (result: Result) => void; reject: (err: unknown) => void }[] = [];
  private writing: Promise<void> | undefined;

  constructor(
    // Writes the entries, answering a result per entry in order.
    private readonly write: (entries: Entry[]) => Promise<Result[]>,
    private readonly maxBatch: number,
  ) {}

  add(entry: Entry): Promise<Result> {
    return new Promise((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      this.writing ??= this.drain().finally(() => (this.writing = undefined));
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        const results = await this.write(batch.map((b) => b.entry));
        batch.forEach((b, i) => b.resolve(results[i]!));
      } catch (err) {
        if (batch.length === 1) {
          batch[0]!.reject(err);
          continue;
        }
        for (const one of batch) {
          await this.write([one.entry]).then(
            ([result]) => one.resolve(result!),
            (oneErr: unknown) => one.reject(oneErr),
          );
        }
      }
    }
  }
}
