import { describe, expect, it } from "vitest";
import { TokenBucketLimiter } from "./rate-limiter";

describe("TokenBucketLimiter", () => {
  it("allows a burst, then refills at the rate, per key", () => {
    let now = 0;
    const limiter = new TokenBucketLimiter(2, 3, () => now);
    expect([1, 2, 3].map(() => limiter.take("a").allowed)).toEqual([true, true, true]);
    const denied = limiter.take("a");
    expect(denied.allowed).toBe(false);
    expect(denied.retryAfterMs).toBeCloseTo(500);
    expect(limiter.take("b").allowed).toBe(true);
    now = 500;
    expect(limiter.take("a").allowed).toBe(true);
    expect(limiter.take("a").allowed).toBe(false);
    now = 10_000;
    expect([1, 2, 3, 4].map(() => limiter.take("a").allowed)).toEqual([true, true, true, false]);
  });

  it("checks without spending, and keeps at most maxKeys buckets", () => {
    let now = 0;
    const limiter = new TokenBucketLimiter(1, 1, () => now, 2);
    expect(limiter.take("a").allowed).toBe(true);
    expect(limiter.check("a")).toMatchObject({ allowed: false, retryAfterMs: 1000, limit: 1, remaining: 0, resetMs: 1000 });
    expect(limiter.check("b").allowed).toBe(true);
    expect(limiter.check("b").allowed).toBe(true);
    limiter.take("b");
    limiter.take("c");
    // "a" was the least recently used: forgotten, so full again.
    expect(limiter.check("a").allowed).toBe(true);
    expect(limiter.check("c").allowed).toBe(false);
  });

  it("charges into debt", () => {
    let now = 0;
    const limiter = new TokenBucketLimiter(1, 2, () => now);
    for (let i = 0; i < 5; i++) limiter.charge("a");
    expect(limiter.check("a")).toMatchObject({ allowed: false, retryAfterMs: 4000 });
    now = 4000;
    expect(limiter.take("a").allowed).toBe(true);
  });

  it("takes a call's own rate instead of the limiter's, and tells what is left", () => {
    let now = 0;
    const limiter = new TokenBucketLimiter(100, 100, () => now);
    const own = { ratePerSecond: 1, burst: 2 };
    expect(limiter.take("a", own)).toMatchObject({ allowed: true, limit: 2, remaining: 1, resetMs: 1000 });
    expect(limiter.take("a", own)).toMatchObject({ allowed: true, remaining: 0, resetMs: 2000 });
    expect(limiter.take("a", own)).toMatchObject({ allowed: false, retryAfterMs: 1000 });
    now = 1000;
    expect(limiter.take("a", own).allowed).toBe(true);
  });
});
