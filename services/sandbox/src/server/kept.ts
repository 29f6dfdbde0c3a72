// What the sandbox remembers (payments, messages, idempotent answers,
// pending actions) is kept for as long as a caller plausibly comes back for
// it — a capture, a refund, a retrieval, a replay — but never without
// bounds: the sandbox runs inside the product for months. Past its count or
// its age the oldest entry is forgotten, and asking for it gets the answer
// to an id the sandbox never issued.

export interface KeptLimits {
  // Entries of one kind, across every account.
  maxEntries: number;
  maxAgeMs: number;
}

// About 1.2 KiB a payment: 20,000 of each kind stay within tens of MiB.
export const defaultKeptLimits: KeptLimits = { maxEntries: 20_000, maxAgeMs: 24 * 3600_000 };

// A map that forgets its oldest entries beyond `maxEntries` or `maxAgeMs`.
// Entries stay in the order they were first set, so the oldest is first.
export class Kept<V> {
  private readonly entries = new Map<string, { value: V; at: number }>();

  constructor(
    private readonly limits: KeptLimits,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.expired(entry.at)) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  // Keeps a new entry, forgetting what is now too old or too many.
  add(key: string, value: V): void {
    this.entries.set(key, { value, at: this.now() });
    for (const [oldest, entry] of this.entries) {
      if (this.entries.size <= this.limits.maxEntries && !this.expired(entry.at)) break;
      this.entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  // Unexpired values, newest first.
  newestFirst(): V[] {
    const values: V[] = [];
    for (const entry of this.entries.values()) if (!this.expired(entry.at)) values.push(entry.value);
    return values.reverse();
  }

  get size(): number {
    return this.entries.size;
  }

  private expired(at: number): boolean {
    return this.now() - at > this.limits.maxAgeMs;
  }
}
