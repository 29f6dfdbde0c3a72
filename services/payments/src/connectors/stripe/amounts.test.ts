import { describe, expect, it } from "vitest";
import { ConnectorError } from "../connector";
import { fromStripeAmount, toStripeAmount } from "./amounts";

describe("Stripe amounts", () => {
  it("passes ISO minor units through where Stripe agrees with ISO", () => {
    expect(toStripeAmount(1234n, "USD")).toBe(1234);
    expect(toStripeAmount(500n, "JPY")).toBe(500);
    expect(toStripeAmount(10050n, "inr")).toBe(10050);
    expect(fromStripeAmount(500, "jpy")).toBe(500n);
  });

  it("takes three-decimal currencies only in whole tens", () => {
    expect(toStripeAmount(1230n, "KWD")).toBe(1230);
    expect(fromStripeAmount(1230, "kwd")).toBe(1230n);
    for (const currency of ["KWD", "BHD", "JOD", "OMR", "TND"]) {
      const err = (() => {
        try {
          toStripeAmount(1234n, currency);
        } catch (e) {
          return e;
        }
      })();
      expect(err, currency).toBeInstanceOf(ConnectorError);
      expect((err as ConnectorError).kind).toBe("invalid_request");
    }
  });

  it("converts where Stripe's exponent differs from ISO", () => {
    // ISK: zero-decimal in ISO, two-decimal (whole krónur only) at Stripe.
    expect(toStripeAmount(5n, "ISK")).toBe(500);
    expect(fromStripeAmount(500, "isk")).toBe(5n);
    // MGA: two-decimal in ISO, zero-decimal at Stripe.
    expect(toStripeAmount(50000n, "MGA")).toBe(500);
    expect(fromStripeAmount(500, "mga")).toBe(50000n);
    expect(() => toStripeAmount(50050n, "MGA")).toThrow(ConnectorError);
  });
});
