import { create } from "@bufbuild/protobuf";
import { RoutingProfileSchema, RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { PreviewOutcome } from "./pages/routing";
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

// The preview as the routing page renders it, from the same profile.
describe("the routing preview's sentence", () => {
  const names = new Map([
    ["pa_stripe", "Stripe EU (stripe)"],
    ["pa_paypal", "PayPal (paypal)"],
    ["pa_adyen", "Adyen (adyen)"],
    ["pa_razorpay", "Razorpay (razorpay)"],
  ]);
  const sentence = (amount: bigint | undefined, currency: string, country: string, of = profile) =>
    textOf(renderToStaticMarkup(createElement(PreviewOutcome, { profile: of, accountNames: names, amount, currency, country })));

  it("names the accounts in the order they are tried", () => {
    expect(sentence(2500n, "EUR", "DE")).toBe("A €25.00 payment from DE would go to Stripe EU (stripe), then PayPal (paypal) (priority).");
  });

  it("gives each account's share of a weighted rule and names the rule", () => {
    expect(sentence(250_000n, "EUR", "FR")).toBe(
      'A €2,500.00 payment from FR would go to Stripe EU (stripe) (75%) or Adyen (adyen) (25%), by rule "big euro payments" (weighted).',
    );
  });

  it("writes a zero-decimal currency without cents, and an account it does not know by its id", () => {
    const yen = create(RoutingProfileSchema, { strategy: RoutingStrategy.PRIORITY, targets: [{ providerAccountId: "pa_gone" }] });
    expect(sentence(2500n, "JPY", "JP", yen)).toBe("A ¥2,500 payment from JP would go to pa_gone (priority).");
  });

  it("says any enabled account may serve a profile with no targets, and asks for an amount it cannot read", () => {
    const empty = create(RoutingProfileSchema, { strategy: RoutingStrategy.CHEAPEST });
    expect(sentence(100n, "USD", "US", empty)).toBe("A $1.00 payment from US would go to any enabled account (cheapest).");
    expect(sentence(undefined, "USD", "US")).toBe("Enter an amount and a currency.");
  });
});

function textOf(html: string): string {
  return html
    .replace(/<[^>]+>/g, "")
    .replaceAll("&quot;", '"')
    .replaceAll("&#x27;", "'")
    .replaceAll("&amp;", "&");
}
