import { describe, expect, it } from "vitest";
import { startWebhookReceiver, useTestBed } from "@onerouter/routing/testing";
import { razorpayTestTokens, razorpayWebhookSignature } from "@onerouter/emulators/razorpay";
import type { CreatePaymentInput } from "../connector";
import { startRazorpayHarness, type RazorpayHarness } from "./connector.testing";
import { verifyRazorpaySignature } from "./index";

let counter = 0;
function payment(overrides: Partial<CreatePaymentInput> = {}): CreatePaymentInput {
  counter += 1;
  const id = `${Date.now().toString(36)}${counter}`;
  return {
    attemptId: `att_rzp_wh_${id}`,
    paymentId: `pay_rzp_wh_${id}`,
    amount: 25000n,
    currency: "INR",
    captureMethod: "automatic",
    paymentMethodToken: razorpayTestTokens.success,
    metadata: {},
    ...overrides,
  };
}

describe("verifyRazorpaySignature", () => {
  const body = '{"event":"payment.captured"}';
  const secret = "whsec_test";

  it("accepts the hex HMAC-SHA256 of the raw body", () => {
    expect(verifyRazorpaySignature(Buffer.from(body), razorpayWebhookSignature(body, secret), secret)).toBe(true);
  });

  it("rejects another secret, another body, and anything that is not a hex digest", () => {
    const signature = razorpayWebhookSignature(body, secret);
    expect(verifyRazorpaySignature(body, signature, "whsec_other")).toBe(false);
    expect(verifyRazorpaySignature(`${body} `, signature, secret)).toBe(false);
    expect(verifyRazorpaySignature(body, signature.slice(2), secret)).toBe(false);
    expect(verifyRazorpaySignature(body, "z".repeat(64), secret)).toBe(false);
  });
});

describe("razorpay webhooks", () => {
  const h = useTestBed(startRazorpayHarness);

  it("maps payment events with the attempt id from the payment's notes", async () => {
    const input = payment({ captureMethod: "manual" });
    const created = await h().connector.createPayment(h().ctx, input);
    const event = await h().connector.parseWebhook(h().ctx, h().webhook("payment.authorized", { paymentId: created.providerPaymentId }));
    expect(event).toMatchObject({
      kind: "payment",
      providerPaymentId: created.providerPaymentId,
      attemptId: input.attemptId,
      status: "requires_capture",
    });
  });

  it("maps order.paid to a captured payment", async () => {
    const input = payment();
    const created = await h().connector.createPayment(h().ctx, input);
    const event = await h().connector.parseWebhook(h().ctx, h().webhook("order.paid", { paymentId: created.providerPaymentId }));
    expect(event).toMatchObject({ kind: "payment", attemptId: input.attemptId, status: "succeeded", amountCaptured: 25000n });
  });

  it("maps payment.failed to a decline", async () => {
    const created = await h().connector.createPayment(h().ctx, payment({ paymentMethodToken: razorpayTestTokens.cardDeclined }));
    const event = await h().connector.parseWebhook(h().ctx, h().webhook("payment.failed", { paymentId: created.providerPaymentId }));
    expect(event).toMatchObject({ kind: "payment", status: "declined" });
    expect(event.failure).toMatchObject({ reason: "PROVIDER_DECLINED", declineCode: "card_declined" });
  });

  it("maps refund.processed, except the refund that completes a capture below the authorization", async () => {
    const created = await h().connector.createPayment(h().ctx, payment({ captureMethod: "manual" }));
    await h().connector.capturePayment(h().ctx, {
      providerPaymentId: created.providerPaymentId,
      amount: 20000n,
      currency: "INR",
      idempotencyKey: "cap_wh",
    });
    const refund = await h().connector.refundPayment(h().ctx, {
      providerPaymentId: created.providerPaymentId,
      amount: 5000n,
      currency: "INR",
      refundId: "ref_wh",
      idempotencyKey: "ref_wh",
    });
    const event = await h().connector.parseWebhook(
      h().ctx,
      h().webhook("refund.processed", { paymentId: created.providerPaymentId, refundId: refund.providerRefundId }),
    );
    expect(event).toMatchObject({
      kind: "refund",
      providerRefundId: refund.providerRefundId,
      providerPaymentId: created.providerPaymentId,
      status: "succeeded",
    });
    const remainder = (await refundsOf(created.providerPaymentId)).find((id) => id !== refund.providerRefundId);
    const remainderEvent = await h().connector.parseWebhook(
      h().ctx,
      h().webhook("refund.processed", { paymentId: created.providerPaymentId, refundId: remainder }),
    );
    expect(remainderEvent.kind).toBe("ignored");
  });

  it("ignores events it does not track, and knows an event by its signed body, not X-Razorpay-Event-Id", async () => {
    const created = await h().connector.createPayment(h().ctx, payment());
    const refundCreated = h().webhook("refund.created", { paymentId: created.providerPaymentId });
    const event = await h().connector.parseWebhook(h().ctx, refundCreated);
    expect(event.kind).toBe("ignored");
    const { "x-razorpay-event-id": _eventId, ...headers } = refundCreated.headers;
    expect((await h().connector.parseWebhook(h().ctx, { ...refundCreated, headers })).providerEventId).toBe(event.providerEventId);
    const renamed = { ...refundCreated, headers: { ...headers, "x-razorpay-event-id": "evt_another" } };
    expect((await h().connector.parseWebhook(h().ctx, renamed)).providerEventId).toBe(event.providerEventId);
  });

  async function refundsOf(paymentId: string): Promise<string[]> {
    const auth = Buffer.from(`${h().ctx.credentials.key_id}:${h().ctx.credentials.key_secret}`).toString("base64");
    const res = await fetch(`${h().emulator.url}/v1/payments/${paymentId}/refunds`, { headers: { authorization: `Basic ${auth}` } });
    const body = (await res.json()) as { items: Array<{ id: string }> };
    return body.items.map((item) => item.id);
  }
});

describe("razorpay webhook delivery", () => {
  it("posts signed events to the configured URL as payments happen", async () => {
    const receiver = await startWebhookReceiver("/webhooks/razorpay");
    const h = await startRazorpayHarness({ webhookUrl: receiver.url });
    try {
      const input = payment();
      const created = await h.connector.createPayment(h.ctx, input);
      await expect.poll(() => receiver.received.length).toBeGreaterThanOrEqual(3);
      const events = await Promise.all(receiver.received.map((webhook) => h.connector.parseWebhook(h.ctx, webhook)));
      // payment.authorized, payment.captured and order.paid, in whatever order they arrive.
      expect(events.map((e) => e.status).sort()).toEqual(["requires_capture", "succeeded", "succeeded"]);
      expect(events.every((e) => e.providerPaymentId === created.providerPaymentId && e.attemptId === input.attemptId)).toBe(true);
      expect(new Set(events.map((e) => e.providerEventId)).size).toBe(3);
    } finally {
      await h.close();
      await receiver.close();
    }
  });
});
