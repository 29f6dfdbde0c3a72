import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import {
  FeeSchema,
  RoutingProfileSchema,
  RoutingStrategy,
  type Fee,
  type RoutingProfile,
} from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { estimateFee, feeAmount, findFee } from "./fees";
import { decideRoute, orderCandidates, successRateWindowMs, type RoutingRequest } from "./select";

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
    expect(ids(orderCandidates(decision, { accounts, request: usd(1n), fees: [], defaultFees: [], successRates }))).toEqual([
      "pa_b",
      "pa_c",
      "pa_a",
    ]);
  });
});
