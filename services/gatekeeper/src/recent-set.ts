// Remembers strings for `ttlMs`, at most `maxSize` of them (the oldest are
// forgotten first), so a flood of distinct values cannot grow it.
export class RecentSet {
  private readonly expiries = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxSize: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  has(value: string): boolean {
    const expiresAt = this.expiries.get(value);
    if (expiresAt === undefined) return false;
    if (expiresAt > this.now()) return true;
    this.expiries.delete(value);
    return false;
  }

  add(value: string): void {
    if (this.maxSize === 0 || this.ttlMs === 0) return;
    this.expiries.delete(value);
    this.expiries.set(value, this.now() + this.ttlMs);
    if (this.expiries.size > this.maxSize) this.expiries.delete(this.expiries.keys().next().value!);
  }
}
