// Token bucket per key: `burst` tokens, refilled at `ratePerSecond`. Kept in
// memory, for one process (the mesh's replicas share SharedRateStore's). At
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

// What a bucket holding `tokens` answers.
export function bucketDecision(tokens: number, rate: Rate, allowed: boolean): RateDecision {
  return {
    allowed,
    retryAfterMs: allowed ? 0 : ((1 - tokens) / rate.ratePerSecond) * 1000,
    limit: rate.burst,
    remaining: Math.max(0, Math.floor(tokens)),
    resetMs: ((rate.burst - tokens) / rate.ratePerSecond) * 1000,
  };
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
    if (bucket.tokens < 1) return bucketDecision(bucket.tokens, rate, false);
    bucket.tokens -= 1;
    return bucketDecision(bucket.tokens, rate, true);
  }

  // Spends a token even when there is none: the bucket goes into debt, and
  // refills from there.
  charge(key: string, rate = this.rate): void {
    this.refilled(key, rate).tokens -= 1;
  }

  // Whether take() would be allowed, spending nothing.
  check(key: string, rate = this.rate): RateDecision {
    const bucket = this.refilled(key, rate);
    return bucketDecision(bucket.tokens, rate, bucket.tokens >= 1);
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

// Failed authentications per client address: looked at before a call's
// credentials are, spent by each failure. A process's own TokenBucketLimiter,
// or buckets every gatekeeper replica shares (SharedRateStore's).
export interface FailureCounter {
  check(key: string): RateDecision | Promise<RateDecision>;
  charge(key: string): void | Promise<void>;
}

// A token taken from each of a call's buckets, or from none.
export interface RateRequest {
  key: string;
  rate: Rate;
}

export interface RateOutcome {
  // One per bucket, in order; when refused, the first empty bucket's is at `refused`.
  decisions: RateDecision[];
  refused?: number;
}

// Where a call's buckets live: in this process (embedded), or in a store
// every gatekeeper replica shares (the mesh, see shared-rate-store.ts).
export interface RateStore {
  take(requests: readonly RateRequest[]): RateOutcome | Promise<RateOutcome>;
}

// The buckets of one process, answered without waiting for anything.
export class LocalRateStore implements RateStore {
  constructor(private readonly limiter = new TokenBucketLimiter(1, 1)) {}

  take(requests: readonly RateRequest[]): RateOutcome {
    const checked = requests.map((r) => this.limiter.check(r.key, r.rate));
    const refused = checked.findIndex((decision) => !decision.allowed);
    if (refused >= 0) return { decisions: checked, refused };
    return { decisions: requests.map((r) => this.limiter.take(r.key, r.rate)) };
  }
}
