import { create } from "@bufbuild/protobuf";
import { durationFromMs, type Duration } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import {
  FeeSchema,
  LearningOptionsSchema,
  RoutingProfileSchema,
  RoutingStrategy,
  type Fee,
  type RoutingProfile,
} from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { estimateFee, feeAmount, findFee } from "./fees";
import { decideRoute, defaultLearning, learningOf, orderCandidates, successRateWindowMs, type Learning, type OutcomeCounts, type RoutingRequest } from "./select";

const fee = (init: Partial<Pick<Fee, "provider" | "currency" | "country" | "percentageBps" | "fixedMicros">>) => create(FeeSchema, init);
const profile = (init: Parameters<typeof create<typeof RoutingProfileSchema>>[1]): RoutingProfile => create(RoutingProfileSchema, init);
const usd = (amount: bigint, country = "US"): RoutingRequest => ({ amount, currency: "USD", country });

const accounts = [
  { id: "pa_a", provider: "alpha" },
  { id: "pa_b", provider: "beta" },
  { id: "pa_c", provider: "gamma" },
];
const ids = (candidates: { account: { id: string } }[]) => candidates.map((c) => c.account.id);

describe("fees", () => {
  it("adds basis points of the amount to the fixed part in the currency's minor units, rounding half up", () => {
    expect(feeAmount(fee({ percentageBps: 290, fixedMicros: 300_000n }), 1000n, "USD")).toBe(59n);
    // 1.5 % of 1001 cents is 15.015 cents.
    expect(feeAmount(fee({ percentageBps: 150 }), 1001n, "USD")).toBe(15n);
    expect(feeAmount(fee({ percentageBps: 150 }), 1100n, "USD")).toBe(17n);
    // 30 yen fixed, zero-decimal; 0.1 dinar fixed, three decimals.
    expect(feeAmount(fee({ fixedMicros: 30_000_000n }), 5000n, "JPY")).toBe(30n);
    expect(feeAmount(fee({ percentageBps: 100, fixedMicros: 100_000n }), 10_000n, "KWD")).toBe(200n);
  });

  it("uses the most specific fee: provider+currency+country, +currency, +country, provider", () => {
    const fees = [
      fee({ provider: "alpha", percentageBps: 1 }),
      fee({ provider: "alpha", country: "IN", percentageBps: 2 }),
      fee({ provider: "alpha", currency: "INR", percentageBps: 3 }),
      fee({ provider: "alpha", currency: "INR", country: "IN", percentageBps: 4 }),
      fee({ provider: "beta", percentageBps: 9 }),
    ];
    const bps = (currency: string, country: string) =>
      findFee(fees, { provider: "alpha", currency, country, amount: 1n })?.percentageBps;
    expect(bps("INR", "IN")).toBe(4);
    expect(bps("INR", "US")).toBe(3);
    expect(bps("USD", "IN")).toBe(2);
    expect(bps("USD", "US")).toBe(1);
    expect(findFee(fees, { provider: "delta", currency: "USD", country: "US", amount: 1n })).toBeUndefined();
  });

  it("lets any of the tenant's fees for a provider win over its published defaults", () => {
    const defaults = [fee({ provider: "alpha", currency: "USD", percentageBps: 290 })];
    const overrides = [fee({ provider: "alpha", percentageBps: 100 })];
    expect(estimateFee({ provider: "alpha", ...usd(10_000n) }, overrides, defaults)).toBe(100n);
    expect(estimateFee({ provider: "alpha", ...usd(10_000n) }, [], defaults)).toBe(290n);
    expect(estimateFee({ provider: "beta", ...usd(10_000n) }, overrides, defaults)).toBeUndefined();
  });
});

describe("route decision", () => {
  const withRules = profile({
    strategy: RoutingStrategy.PRIORITY,
    targets: [{ providerAccountId: "pa_a" }, { providerAccountId: "pa_b" }],
    rules: [
      { name: "big-inr", condition: { currencies: ["INR"], minAmount: 100_000n }, strategy: RoutingStrategy.CHEAPEST },
      { name: "india", condition: { countries: ["IN"] }, targets: [{ providerAccountId: "pa_c" }] },
      { name: "small", condition: { maxAmount: 500n }, strategy: RoutingStrategy.SUCCESS_RATE },
    ],
  });

  it("lets the first matching rule decide, filling in what it leaves out from the profile", () => {
    const bigInr = decideRoute(withRules, { amount: 200_000n, currency: "INR", country: "IN" });
    expect(bigInr).toMatchObject({ rule: "big-inr", strategy: RoutingStrategy.CHEAPEST });
    expect(bigInr.targets.map((t) => t.providerAccountId)).toEqual(["pa_a", "pa_b"]);
    const india = decideRoute(withRules, { amount: 1000n, currency: "INR", country: "IN" });
    expect(india).toMatchObject({ rule: "india", strategy: RoutingStrategy.PRIORITY });
    expect(india.targets.map((t) => t.providerAccountId)).toEqual(["pa_c"]);
    expect(decideRoute(withRules, usd(500n))).toMatchObject({ rule: "small", strategy: RoutingStrategy.SUCCESS_RATE });
    expect(decideRoute(withRules, usd(501n))).toMatchObject({ rule: "", strategy: RoutingStrategy.PRIORITY });
  });

  it("routes by priority over every account without a profile", () => {
    const decision = decideRoute(undefined, usd(100n));
    expect(decision).toMatchObject({ strategy: RoutingStrategy.PRIORITY, rule: "" });
    expect(ids(orderCandidates(decision, { accounts, request: usd(100n), fees: [], defaultFees: [] }))).toEqual(["pa_a", "pa_b", "pa_c"]);
  });

  it("defaults the success-rate window to an hour", () => {
    expect(successRateWindowMs(undefined)).toBe(3600_000);
    expect(successRateWindowMs(profile({ successRateWindow: durationFromMs(60_000) }))).toBe(60_000);
    // Saved before windows were held to 30 days: its start must still be a real time.
    expect(successRateWindowMs(profile({ successRateWindow: { seconds: 10n ** 15n, nanos: 0 } as Duration }))).toBe(30 * 86_400_000);
  });
});

describe("candidate order", () => {
  const targets = [{ providerAccountId: "pa_a", weight: 1 }, { providerAccountId: "pa_b", weight: 3 }, { providerAccountId: "pa_c", weight: 0 }];

  it("keeps the targets' order for PRIORITY and leaves out accounts that are not usable", () => {
    const decision = decideRoute(profile({ targets: [{ providerAccountId: "pa_gone" }, ...targets.slice().reverse()] }), usd(1n));
    expect(ids(orderCandidates(decision, { accounts: accounts.slice(0, 2), request: usd(1n), fees: [], defaultFees: [] }))).toEqual(["pa_b", "pa_a"]);
  });

  it("orders CHEAPEST by estimated fee, unknown fees last, and reports each estimate", () => {
    const defaults = [fee({ provider: "alpha", percentageBps: 290, fixedMicros: 300_000n }), fee({ provider: "beta", percentageBps: 150 })];
    const decision = decideRoute(profile({ strategy: RoutingStrategy.CHEAPEST, targets }), usd(10_000n));
    const candidates = orderCandidates(decision, { accounts, request: usd(10_000n), fees: [], defaultFees: defaults });
    expect(candidates.map((c) => [c.account.id, c.estimatedFee])).toEqual([
      ["pa_b", 150n],
      ["pa_a", 320n],
      ["pa_c", undefined],
    ]);
    // With a fixed part dominating small amounts the order flips.
    const small = orderCandidates(decision, {
      accounts,
      request: usd(100n),
      fees: [fee({ provider: "beta", fixedMicros: 500_000n })],
      defaultFees: defaults,
    });
    expect(ids(small)).toEqual(["pa_a", "pa_b", "pa_c"]);
  });

  it("orders CHEAPEST by the caller's own price when it prices per unit", () => {
    const decision = decideRoute(profile({ strategy: RoutingStrategy.CHEAPEST, targets }), usd(3n));
    const perUnit: Record<string, bigint> = { alpha: 7_900n, beta: 8_090n };
    const candidates = orderCandidates(decision, {
      accounts,
      request: usd(3n),
      fees: [],
      defaultFees: [],
      price: (provider) => (perUnit[provider] === undefined ? undefined : perUnit[provider]! * 3n),
    });
    expect(candidates.map((c) => [c.account.id, c.estimatedFee])).toEqual([
      ["pa_a", 23_700n],
      ["pa_b", 24_270n],
      ["pa_c", undefined],
    ]);
    expect(candidates.map((c) => c.reason)).toEqual(["chosen: price 0.0237 USD", "failover: price 0.02427 USD", "failover: fee unknown"]);
  });

  it("draws the first WEIGHTED target by weight and keeps the rest in weight order", () => {
    const decision = decideRoute(profile({ strategy: RoutingStrategy.WEIGHTED, targets }), usd(1n));
    const draw = (r: number) => ids(orderCandidates(decision, { accounts, request: usd(1n), fees: [], defaultFees: [], random: () => r }));
    // Weights 3 (pa_b) and 1 (pa_a) of 4: [0, 0.75) picks pa_b, [0.75, 1) pa_a; weight 0 is never first.
    expect(draw(0)).toEqual(["pa_b", "pa_a", "pa_c"]);
    expect(draw(0.74)).toEqual(["pa_b", "pa_a", "pa_c"]);
    expect(draw(0.75)).toEqual(["pa_a", "pa_b", "pa_c"]);
    expect(draw(0.999)).toEqual(["pa_a", "pa_b", "pa_c"]);
  });

  it("orders SUCCESS_RATE by the smoothed rate, so an account without history sits at 50 %", () => {
    const decision = decideRoute(profile({ strategy: RoutingStrategy.SUCCESS_RATE, targets }), usd(1n));
    const successRates = new Map([
      ["pa_a", { attempts: 10, successes: 3 }],
      ["pa_b", { attempts: 10, successes: 9 }],
    ]);
    const noExploration = { ...defaultLearning, explorationShare: 0 };
    expect(ids(orderCandidates(decision, { accounts, request: usd(1n), fees: [], defaultFees: [], successRates, learning: noExploration }))).toEqual([
      "pa_b",
      "pa_c",
      "pa_a",
    ]);
  });
});

// Deterministic draws in [0, 1) (mulberry32), so shares are reproducible.
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("routing that learns", () => {
  const targets = accounts.map((a) => ({ providerAccountId: a.id }));
  const learning = (init: Partial<Learning>): Learning => ({ ...defaultLearning, ...init });
  // 2.9 %, 3.5 % and 1 % of the amount.
  const defaultFees = [fee({ provider: "alpha", percentageBps: 290 }), fee({ provider: "beta", percentageBps: 350 }), fee({ provider: "gamma", percentageBps: 100 })];
  // Smoothed scores: (successes + 1) / (attempts + 2).
  const rates = (...counts: [number, number][]): Map<string, OutcomeCounts> =>
    new Map(counts.map(([attempts, successes], i) => [accounts[i]!.id, { attempts, successes }]));
  const order = (strategy: RoutingStrategy, input: { successRates: ReturnType<typeof rates>; learning: Learning; random?: () => number }) =>
    orderCandidates(decideRoute(profile({ strategy, targets }), usd(10_000n)), { accounts, request: usd(10_000n), fees: [], defaultFees, ...input });

  it("reads the profile's learning options, defaults where unset, points as fractions", () => {
    expect(learningOf(undefined)).toEqual(defaultLearning);
    expect(learningOf(create(LearningOptionsSchema, { explorationShare: 0, eliminationGapPoints: 10, successRateTolerancePoints: 5 }))).toEqual({
      explorationShare: 0,
      eliminationGap: 0.1,
      eliminationMinAttempts: 20,
      successRateTolerance: 0.05,
    });
  });

  it("explains the choice with its score and fee", () => {
    const candidates = order(RoutingStrategy.SUCCESS_RATE, { successRates: rates([98, 96], [98, 90], [98, 80]), learning: learning({ explorationShare: 0 }) });
    expect(candidates.map((c) => c.reason)).toEqual([
      "chosen: best score 0.97 × fee 2.9 %",
      "failover: score 0.91 × fee 3.5 %",
      "failover: score 0.81 × fee 1 %",
    ]);
  });

  it("sends the exploration share of traffic first to another account, drawn evenly, never an eliminated one", () => {
    const random = seeded(20261205);
    const firsts = new Map<string, number>();
    const runs = 20_000;
    // pa_b is the best; pa_a is worse but close; pa_c is eliminated (far below, enough attempts).
    const successRates = rates([100, 80], [100, 95], [100, 10]);
    for (let i = 0; i < runs; i++) {
      const [first] = order(RoutingStrategy.SUCCESS_RATE, { successRates, learning: learning({ explorationShare: 0.1 }), random });
      firsts.set(first!.account.id, (firsts.get(first!.account.id) ?? 0) + 1);
      if (first!.account.id === "pa_a") expect(first!.reason).toMatch(/^chosen: exploring \(10 % of calls test other accounts\): score 0\.79/);
    }
    // 10 % explored, all of it on the one account not eliminated; 3 standard deviations is about 0.64 points.
    expect((firsts.get("pa_a") ?? 0) / runs).toBeGreaterThan(0.093);
    expect((firsts.get("pa_a") ?? 0) / runs).toBeLessThan(0.107);
    expect(firsts.get("pa_c")).toBeUndefined();
    // With two others to explore, each gets half of the share.
    const even = new Map<string, number>();
    for (let i = 0; i < runs; i++) {
      const [first] = order(RoutingStrategy.SUCCESS_RATE, { successRates: rates([100, 80], [100, 95], [100, 70]), learning: learning({ explorationShare: 0.2 }), random });
      even.set(first!.account.id, (even.get(first!.account.id) ?? 0) + 1);
    }
    expect((even.get("pa_a") ?? 0) / runs).toBeCloseTo(0.1, 1);
    expect((even.get("pa_c") ?? 0) / runs).toBeCloseTo(0.1, 1);
    expect((even.get("pa_b") ?? 0) / runs).toBeCloseTo(0.8, 1);
  });

  it("eliminates an account far below its peers once it has enough attempts: it goes last, even when cheapest", () => {
    const eliminated = order(RoutingStrategy.CHEAPEST_RELIABLE, { successRates: rates([50, 45], [50, 46], [30, 5]), learning: learning({ explorationShare: 0 }) });
    expect(ids(eliminated)).toEqual(["pa_a", "pa_b", "pa_c"]);
    expect(eliminated[2]!.reason).toBe("failover: eliminated, more than 30 points below the best score 0.90: score 0.19 × fee 1 %");
    // With fewer attempts than the minimum it is only ranked, not eliminated.
    const young = order(RoutingStrategy.SUCCESS_RATE, { successRates: rates([50, 45], [50, 46], [10, 1]), learning: learning({ explorationShare: 0 }) });
    expect(young[2]!.reason).toBe("failover: score 0.17 × fee 1 %");
    // A narrower gap eliminates sooner.
    const strict = order(RoutingStrategy.SUCCESS_RATE, {
      successRates: rates([50, 45], [50, 40], [50, 35]),
      learning: learning({ explorationShare: 0, eliminationGap: 0.1, eliminationMinAttempts: 20 }),
    });
    expect(strict.map((c) => c.reason.split(",")[0])).toEqual(["chosen: best score 0.88 × fee 2.9 %", "failover: score 0.79 × fee 3.5 %", "failover: eliminated"]);
  });

  it("takes the cheapest account within N points of the best success rate (CHEAPEST_RELIABLE)", () => {
    // pa_a 0.97 at 2.9 %, pa_b 0.98 at 3.5 %, pa_c 0.50 at 1 % (no history).
    const successRates = rates([98, 96], [98, 97]);
    const within2 = order(RoutingStrategy.CHEAPEST_RELIABLE, { successRates, learning: learning({ explorationShare: 0, successRateTolerance: 0.02 }) });
    expect(ids(within2)).toEqual(["pa_a", "pa_b", "pa_c"]);
    expect(within2[0]!.reason).toBe("chosen: cheapest within 2 points of the best score 0.98: score 0.97 × fee 2.9 %");
    // Half a point admits only the best; the cheap account without history is not reliable yet.
    const within05 = order(RoutingStrategy.CHEAPEST_RELIABLE, { successRates, learning: learning({ explorationShare: 0, successRateTolerance: 0.005 }) });
    expect(ids(within05)).toEqual(["pa_b", "pa_a", "pa_c"]);
    // Within 50 points every account is reliable: the cheapest wins outright.
    const within50 = order(RoutingStrategy.CHEAPEST_RELIABLE, { successRates, learning: learning({ explorationShare: 0, successRateTolerance: 0.5 }) });
    expect(ids(within50)).toEqual(["pa_c", "pa_a", "pa_b"]);
  });
});
