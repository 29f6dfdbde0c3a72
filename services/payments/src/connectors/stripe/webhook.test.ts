import { createHmac } from "node:crypto";
import { signStripePayload } from "@onerouter/emulators/stripe";
import { describe, expect, it } from "vitest";
import { useTestBed, webhookRejection } from "@onerouter/routing/testing";
import { stripeConnector } from "./index";
import { startStripeTestBed, testWebhookSecret, type StripeTestBed } from "./connector.testing";
import { parseStripeEvent, verifyStripeSignature } from "./webhook";

const body = Buffer.from('{"id":"evt_1","object":"event","type":"ping","data":{"object":{}}}');
const now = 1_700_000_000;

function v1(timestamp: number, secret = testWebhookSecret): string {
  return createHmac("sha256", secret).update(`${timestamp}.${body.toString()}`).digest("hex");
}

describe("verifyStripeSignature", () => {
  const verifyAt = (header: string | undefined, options: { toleranceSeconds?: number } = {}) =>
    verifyStripeSignature(body, header, testWebhookSecret, { nowSeconds: now, ...options });

  it("accepts the emulator's signature, which is computed independently", () => {
    expect(verifyAt(signStripePayload(body.toString(), testWebhookSecret, now))).toBe(now);
  });

  it("allows five minutes by default and no more", () => {
    const edge = now - 300;
    expect(verifyAt(`t=${edge},v1=${v1(edge)}`)).toBe(edge);
    const late = now - 301;
    expect(webhookRejection(() => verifyAt(`t=${late},v1=${v1(late)}`)).details.reason).toBe("WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE");
  });

  it("takes a custom tolerance, and 0 turns the age check off", () => {
    const signedAt = now - 3600;
    const header = `t=${signedAt},v1=${v1(signedAt)}`;
    expect(webhookRejection(() => verifyAt(header, { toleranceSeconds: 60 })).details.reason).toBe("WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE");
    expect(verifyAt(header, { toleranceSeconds: 0 })).toBe(signedAt);
  });

  it("accepts any matching v1 among several, as while a secret is rolled", () => {
    expect(verifyAt(`t=${now},v1=${v1(now, "whsec_old")},v1=${v1(now)},v0=${"0".repeat(64)}`)).toBe(now);
  });

  it("rejects missing, malformed, v0-only and mismatched headers", () => {
    expect(webhookRejection(() => verifyAt(undefined)).details.reason).toBe("WEBHOOK_SIGNATURE_MISSING");
    expect(webhookRejection(() => verifyAt("garbage")).details.reason).toBe("WEBHOOK_SIGNATURE_MALFORMED");
    expect(webhookRejection(() => verifyAt(`t=${now},v0=${v1(now)}`)).details.reason).toBe("WEBHOOK_SIGNATURE_MALFORMED");
    expect(webhookRejection(() => verifyAt(`v1=${v1(now)}`)).details.reason).toBe("WEBHOOK_SIGNATURE_MALFORMED");
    expect(webhookRejection(() => verifyAt(`t=${now},v1=${v1(now, "whsec_other")}`)).details.reason).toBe("WEBHOOK_SIGNATURE_MISMATCH");
    // The timestamp is signed too: moving it breaks the signature.
    expect(webhookRejection(() => verifyAt(`t=${now + 1},v1=${v1(now)}`)).details.reason).toBe("WEBHOOK_SIGNATURE_MISMATCH");
  });
});

describe("parseStripeEvent", () => {
  it("rejects bodies that are not Stripe events", () => {
    expect(webhookRejection(() => parseStripeEvent(Buffer.from("not json"))).details.reason).toBe("WEBHOOK_MALFORMED");
    expect(webhookRejection(() => parseStripeEvent(Buffer.from('{"id":"evt_1"}'))).details.reason).toBe("WEBHOOK_MALFORMED");
  });

  it("ignores event types it does not track", () => {
    expect(parseStripeEvent(body)).toEqual({ providerEventId: "evt_1", kind: "ignored" });
  });
});

describe("Stripe webhooks from the emulator's own events", () => {
  const bed = useTestBed(startStripeTestBed);

  function signed(eventIndex: number) {
    const event = bed().stripe.account.events[eventIndex];
    if (!event) throw new Error("no such event");
    const payload = JSON.stringify(event);
    return stripeConnector.parseWebhook(bed().ctx, {
      rawBody: Buffer.from(payload),
      headers: { "stripe-signature": signStripePayload(payload, testWebhookSecret, Math.floor(Date.now() / 1000)) },
      url: "https://onerouter.test/webhooks/stripe",
    });
  }

  function lastEventOf(type: string): number {
    return bed().stripe.account.events.findLastIndex((event) => event.type === type);
  }

  const payment = (
    attemptId: string,
    paymentMethodToken: string,
    captureMethod: "automatic" | "manual" = "automatic",
  ) => ({
    attemptId,
    paymentId: `pay_${attemptId}`,
    amount: 2000n,
    currency: "USD",
    captureMethod,
    paymentMethodToken,
    metadata: {},
  });

  it("maps payment, decline, authorization, cancel and refund events", async () => {
    const paid = await stripeConnector.createPayment(bed().ctx, payment("att_wh_paid", "pm_card_visa"));
    expect(await signed(lastEventOf("payment_intent.succeeded"))).toMatchObject({
      kind: "payment",
      status: "succeeded",
      providerPaymentId: paid.providerPaymentId,
      attemptId: "att_wh_paid",
      amountCaptured: 2000n,
    });

    await stripeConnector.createPayment(bed().ctx, payment("att_wh_declined", "pm_card_chargeDeclinedInsufficientFunds"));
    expect(await signed(lastEventOf("payment_intent.payment_failed"))).toMatchObject({
      kind: "payment",
      status: "declined",
      attemptId: "att_wh_declined",
      failure: { reason: "PROVIDER_DECLINED", declineCode: "insufficient_funds", providerCode: "card_declined" },
    });

    const held = await stripeConnector.createPayment(bed().ctx, payment("att_wh_held", "pm_card_visa", "manual"));
    expect(await signed(lastEventOf("payment_intent.amount_capturable_updated"))).toMatchObject({
      kind: "payment",
      status: "requires_capture",
      providerPaymentId: held.providerPaymentId,
    });
    await stripeConnector.cancelPayment(bed().ctx, {
      providerPaymentId: held.providerPaymentId,
      idempotencyKey: "cancel_wh",
    });
    expect(await signed(lastEventOf("payment_intent.canceled"))).toMatchObject({ kind: "payment", status: "canceled" });

    const refund = await stripeConnector.refundPayment(bed().ctx, {
      providerPaymentId: paid.providerPaymentId,
      amount: 500n,
      currency: "USD",
      refundId: "ref_wh",
      idempotencyKey: "ref_wh",
    });
    expect(await signed(lastEventOf("refund.created"))).toMatchObject({
      kind: "refund",
      status: "succeeded",
      providerRefundId: refund.providerRefundId,
      providerPaymentId: paid.providerPaymentId,
    });
    expect(await signed(lastEventOf("charge.refunded"))).toMatchObject({
      kind: "refund",
      providerPaymentId: paid.providerPaymentId,
      attemptId: "att_wh_paid",
    });
    expect(await signed(lastEventOf("payment_intent.created"))).toMatchObject({ kind: "ignored" });
  });
});
