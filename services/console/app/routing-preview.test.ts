import { create } from "@bufbuild/protobuf";
import { RoutingProfileSchema, RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { describe, expect, it } from "vitest";
import { previewRoute } from "./routing-preview";

const profile = create(RoutingProfileSchema, {
  strategy: RoutingStrategy.PRIORITY,
  targets: [{ providerAccountId: "pa_stripe" }, { providerAccountId: "pa_paypal" }],
  rules: [
    {
      name: "big euro payments",
      condition: { currencies: ["EUR"], minAmount: 100_000n },
      strategy: RoutingStrategy.WEIGHTED,
      targets: [
        { providerAccountId: "pa_adyen", weight: 1 },
        { providerAccountId: "pa_stripe", weight: 3 },
      ],
    },
    {
      name: "india",
      condition: { countries: ["IN"], maxAmount: 500_000n },
      targets: [{ providerAccountId: "pa_razorpay" }],
    },
  ],
});

describe("the routing preview", () => {
  it("uses the profile's own order when no rule matches", () => {
    expect(previewRoute(profile, { amount: 2500n, currency: "EUR", country: "DE" })).toEqual({
      rule: undefined,
      strategy: RoutingStrategy.PRIORITY,
      candidates: [{ providerAccountId: "pa_stripe" }, { providerAccountId: "pa_paypal" }],
    });
  });

  it("takes the first matching rule, with each target's share of a weighted split", () => {
    expect(previewRoute(profile, { amount: 250_000n, currency: "eur", country: "de" })).toEqual({
      rule: "big euro payments",
      strategy: RoutingStrategy.WEIGHTED,
      candidates: [
        { providerAccountId: "pa_stripe", share: 75 },
        { providerAccountId: "pa_adyen", share: 25 },
      ],
    });
  });

  it("keeps the profile's strategy for a rule that names none, and honours amount bounds", () => {
    const india = previewRoute(profile, { amount: 10_000n, currency: "INR", country: "IN" });
    expect(india).toEqual({ rule: "india", strategy: RoutingStrategy.PRIORITY, candidates: [{ providerAccountId: "pa_razorpay" }] });
    expect(previewRoute(profile, { amount: 600_000n, currency: "INR", country: "IN" }).rule).toBeUndefined();
  });

  it("gives no share to a weighted split whose weights are all zero", () => {
    const zero = create(RoutingProfileSchema, { strategy: RoutingStrategy.WEIGHTED, targets: [{ providerAccountId: "pa_a", weight: 0 }] });
    expect(previewRoute(zero, { amount: 1n, currency: "USD", country: "US" }).candidates).toEqual([{ providerAccountId: "pa_a", share: 0 }]);
  });
});
