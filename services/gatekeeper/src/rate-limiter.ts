// Token bucket per key: `burst` tokens, refilled at `ratePerSecond`. Kept in
// memory, so in mesh mode each gatekeeper replica enforces its share. At
// most `maxKeys` buckets are kept: the least recently used go first, since
// keys may come from callers (client addresses). A call may name its own
// rate (a key's own limit, its plan's), which then replaces the limiter's.
export interface Rate {
  ratePerSecond: number;
  burst: number;
}

export interface RateDecision {
  allowed: boolean;
  retryAfterMs: number;
  // For RateLimit-* headers: the bucket's size, whole tokens left, and the
  // time until it is full again.
  limit: number;
  remaining: number;
  resetMs: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly rate: Rate;

  constructor(
    ratePerSecond: number,
    burst: number,
    private readonly now: () => number = () => performance.now(),
    private readonly maxKeys = 100_000,
  ) {
    this.rate = { ratePerSecond, burst };
  }

  // Spends a token when there is one.
  take(key: string, rate = this.rate): RateDecision {
    const bucket = this.refilled(key, rate);
    if (bucket.tokens < 1) return this.decision(bucket, rate, false);
    bucket.tokens -= 1;
    return this.decision(bucket, rate, true);
  }

  // Spends a token even when there is none: the bucket goes into debt, and
  // refills from there.
  charge(key: string, rate = this.rate): void {
    this.refilled(key, rate).tokens -= 1;
  }

  // Whether take() would be allowed, spending nothing.
  check(key: string, rate = this.rate): RateDecision {
    const bucket = this.refilled(key, rate);
    return this.decision(bucket, rate, bucket.tokens >= 1);
  }

  private decision(bucket: Bucket, rate: Rate, allowed: boolean): RateDecision {
    return {
      allowed,
      retryAfterMs: allowed ? 0 : ((1 - bucket.tokens) / rate.ratePerSecond) * 1000,
      limit: rate.burst,
      remaining: Math.max(0, Math.floor(bucket.tokens)),
      resetMs: ((rate.burst - bucket.tokens) / rate.ratePerSecond) * 1000,
    };
  }

  private refilled(key: string, rate: Rate): Bucket {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: rate.burst, updatedAt: now };
    bucket.tokens = Math.min(rate.burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * rate.ratePerSecond);
    bucket.updatedAt = now;
    // Re-inserting keeps the map in order of use, oldest first.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    return bucket;
  }
}
