import { describe, expect, it } from "vitest";
import { expectConnectorError, useTestBed } from "@onerouter/routing/testing";
import { razorpayTestTokens, subunitExponent } from "@onerouter/emulators/razorpay";
import { currencyExponent } from "@onerouter/core";
import type { CreatePaymentInput } from "../connector";
import { razorpayCurrencies } from "./amounts";
import { startRazorpayHarness, type RazorpayHarness } from "./connector.testing";

// Razorpay behaviour beyond the shared contract: 3-D Secure, capture below
// the authorization, cancel by notes, idempotent refunds, resuming an attempt.

const h = useTestBed(startRazorpayHarness);

let counter = 0;
function payment(overrides: Partial<CreatePaymentInput> = {}): CreatePaymentInput {
  counter += 1;
  const id = `${Date.now().toString(36)}${counter}`;
  return {
    attemptId: `att_rzp_${id}`,
    paymentId: `pay_rzp_${id}`,
    amount: 50000n,
    currency: "INR",
    captureMethod: "automatic",
    paymentMethodToken: razorpayTestTokens.success,
    customer: { email: "buyer@example.com", phone: "+919000090000" },
    metadata: { cart: id },
    ...overrides,
  };
}

describe("razorpay amounts", () => {
  it("uses the same exponents as OneRouter for every currency it offers", () => {
    for (const currency of razorpayCurrencies) {
      expect(subunitExponent(currency), currency).toBe(currencyExponent(currency));
    }
  });

  it("refuses a currency Razorpay does not settle without calling it", async () => {
    const before = h().emulator.requestCount();
    const error = await expectConnectorError(h().connector.createPayment(h().ctx, payment({ currency: "XOF", amount: 1000n })));
    expect(error.kind).toBe("invalid_request");
    expect(h().emulator.requestCount()).toBe(before);
  });

  it("passes on Razorpay's refusal of a three-decimal amount not ending in 0", async () => {
    const error = await expectConnectorError(h().connector.createPayment(h().ctx, payment({ currency: "KWD", amount: 1235n })));
    expect(error.kind).toBe("invalid_request");
    expect(error.details.providerCode).toBe("input_validation_failed");
  });
});

describe("razorpay payments", () => {
  it("normalizes Razorpay's decline reasons", async () => {
    const result = await h().connector.createPayment(h().ctx, payment({ paymentMethodToken: razorpayTestTokens.cardExpired }));
    expect(result.status).toBe("declined");
    expect(result.failure).toMatchObject({ declineCode: "expired_card", providerCode: "card_expired" });
    expect(h().razorpay.payment(result.providerPaymentId)?.status).toBe("failed");
  });

  it("sends the customer to 3-D Secure and sees the payment captured after", async () => {
    const input = payment({ paymentMethodToken: razorpayTestTokens.threeDSecure });
    const created = await h().connector.createPayment(h().ctx, input);
    expect(created.status).toBe("requires_action");
    expect(created.redirectUrl).toMatch(/\/authenticate$/);
    const customer = await fetch(created.redirectUrl ?? "");
    expect(customer.status).toBe(200);
    const synced = await h().connector.syncPayment(h().ctx, { attemptId: input.attemptId, amount: input.amount, currency: "INR" });
    expect(synced).toMatchObject({ status: "succeeded", providerPaymentId: created.providerPaymentId, amountCaptured: 50000n });
  });

  it("continues an attempt whose order was made without a payment", async () => {
    const input = payment();
    const refused = await expectConnectorError(h().connector.createPayment(h().ctx, { ...input, paymentMethodToken: "tok_unknown" }));
    expect(refused.kind).toBe("invalid_request");
    expect(await h().connector.syncPayment(h().ctx, { attemptId: input.attemptId, amount: input.amount, currency: "INR" })).toBeNull();
    const result = await h().connector.createPayment(h().ctx, input);
    expect(result.status).toBe("succeeded");
    expect(h().razorpay.chargeCount(input.attemptId)).toBe(1);
  });

  it("keeps OneRouter's ids and metadata in the payment's notes", async () => {
    const input = payment();
    const result = await h().connector.createPayment(h().ctx, input);
    expect(h().razorpay.payment(result.providerPaymentId)?.notes).toMatchObject({
      onerouter_attempt_id: input.attemptId,
      onerouter_payment_id: input.paymentId,
      cart: input.metadata.cart,
    });
  });
});

describe("razorpay capture and cancel", () => {
  it("captures below the authorization by refunding the rest, once however often it is retried", async () => {
    const created = await h().connector.createPayment(h().ctx, payment({ captureMethod: "manual" }));
    expect(created.status).toBe("requires_capture");
    const capture = { providerPaymentId: created.providerPaymentId, amount: 30000n, currency: "INR", idempotencyKey: "cap_1" };
    const first = await h().connector.capturePayment(h().ctx, capture);
    const again = await h().connector.capturePayment(h().ctx, capture);
    expect(first).toMatchObject({ status: "succeeded", amountCaptured: 30000n });
    expect(again).toEqual(first);
    expect(h().razorpay.payment(created.providerPaymentId)).toMatchObject({ amount: 50000, amount_refunded: 20000 });
    const synced = await h().connector.syncPayment(h().ctx, {
      attemptId: "unused",
      providerPaymentId: created.providerPaymentId,
      amount: 50000n,
      currency: "INR",
    });
    expect(synced).toMatchObject({ status: "succeeded", amountCaptured: 30000n });
    // The captured event carries the captured amount; the remainder's refund is part of the capture.
    const captured = await h().connector.parseWebhook(h().ctx, h().webhook("payment.captured", { paymentId: created.providerPaymentId }));
    expect(captured).toMatchObject({ kind: "payment", status: "succeeded", amountCaptured: 30000n });
  });

  it("refuses to capture more than was authorized", async () => {
    const created = await h().connector.createPayment(h().ctx, payment({ captureMethod: "manual" }));
    const error = await expectConnectorError(
      h().connector.capturePayment(h().ctx, {
        providerPaymentId: created.providerPaymentId,
        amount: 50001n,
        currency: "INR",
        idempotencyKey: "cap_over",
      }),
    );
    expect(error.kind).toBe("invalid_request");
    expect(h().razorpay.payment(created.providerPaymentId)?.status).toBe("authorized");
  });

  it("cancels by marking the authorization, which then stays canceled and cannot be captured", async () => {
    const input = payment({ captureMethod: "manual" });
    const created = await h().connector.createPayment(h().ctx, input);
    const cancel = { providerPaymentId: created.providerPaymentId, idempotencyKey: "cancel_1" };
    expect((await h().connector.cancelPayment(h().ctx, cancel)).status).toBe("canceled");
    expect((await h().connector.cancelPayment(h().ctx, cancel)).status).toBe("canceled");
    const synced = await h().connector.syncPayment(h().ctx, { attemptId: input.attemptId, amount: input.amount, currency: "INR" });
    expect(synced?.status).toBe("canceled");
    const error = await expectConnectorError(
      h().connector.capturePayment(h().ctx, {
        providerPaymentId: created.providerPaymentId,
        amount: input.amount,
        currency: "INR",
        idempotencyKey: "cap_after_cancel",
      }),
    );
    expect(error.kind).toBe("invalid_request");
  });

  it("cannot cancel a payment the customer is still authenticating", async () => {
    const created = await h().connector.createPayment(h().ctx, payment({ paymentMethodToken: razorpayTestTokens.threeDSecure }));
    const error = await expectConnectorError(
      h().connector.cancelPayment(h().ctx, { providerPaymentId: created.providerPaymentId, idempotencyKey: "cancel_3ds" }),
    );
    expect(error.kind).toBe("invalid_request");
  });

  it("refuses to cancel a captured payment", async () => {
    const created = await h().connector.createPayment(h().ctx, payment());
    const error = await expectConnectorError(
      h().connector.cancelPayment(h().ctx, { providerPaymentId: created.providerPaymentId, idempotencyKey: "cancel_captured" }),
    );
    expect(error.kind).toBe("invalid_request");
  });
});

describe("razorpay refunds", () => {
  it("makes one refund per idempotency key", async () => {
    const created = await h().connector.createPayment(h().ctx, payment());
    const refund = {
      providerPaymentId: created.providerPaymentId,
      amount: 10000n,
      currency: "INR",
      refundId: "ref_rzp_once",
      idempotencyKey: "ref_rzp_once",
      reason: "requested_by_customer",
    };
    const first = await h().connector.refundPayment(h().ctx, refund);
    const again = await h().connector.refundPayment(h().ctx, refund);
    expect(first.status).toBe("succeeded");
    expect(again.providerRefundId).toBe(first.providerRefundId);
    expect(h().razorpay.payment(created.providerPaymentId)?.amount_refunded).toBe(10000);
  });
});
