// Token bucket per key: `burst` tokens, refilled at `ratePerSecond`. Kept in
// memory, so in mesh mode each gatekeeper replica enforces its share. At
// most `maxKeys` buckets are kept: the least recently used go first, since
// keys may come from callers (client addresses).
export interface RateDecision {
  allowed: boolean;
  retryAfterMs: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
    private readonly maxKeys = 100_000,
  ) {}

  // Spends a token when there is one.
  take(key: string): RateDecision {
    const bucket = this.refilled(key);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, retryAfterMs: 0 };
    }
    return this.denied(bucket);
  }

  // Spends a token even when there is none: the bucket goes into debt, and
  // refills from there.
  charge(key: string): void {
    this.refilled(key).tokens -= 1;
  }

  // Whether take() would be allowed, spending nothing.
  check(key: string): RateDecision {
    const bucket = this.refilled(key);
    return bucket.tokens >= 1 ? { allowed: true, retryAfterMs: 0 } : this.denied(bucket);
  }

  private denied(bucket: Bucket): RateDecision {
    return { allowed: false, retryAfterMs: ((1 - bucket.tokens) / this.ratePerSecond) * 1000 };
  }

  private refilled(key: string): Bucket {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, updatedAt: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.ratePerSecond);
    bucket.updatedAt = now;
    // Re-inserting keeps the map in order of use, oldest first.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    return bucket;
  }
}
