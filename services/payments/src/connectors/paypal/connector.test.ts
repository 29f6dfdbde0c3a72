import { paypalTestTokens } from "@onerouter/emulators/paypal";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectConnectorError, startWebhookReceiver } from "@onerouter/routing/testing";
import type { CreatePaymentInput, WebhookInput } from "../connector";
import { startPaypalHarness, type PaypalHarness } from "./connector.testing";

let sequence = 0;
function payment(overrides: Partial<CreatePaymentInput> = {}): CreatePaymentInput {
  sequence += 1;
  return {
    attemptId: `att_paypal_${Date.now().toString(36)}_${sequence}`,
    paymentId: `pay_paypal_${sequence}`,
    amount: 2500n,
    currency: "USD",
    captureMethod: "automatic",
    metadata: {},
    ...overrides,
  };
}

// A stand-in for OneRouter's inbound webhook endpoint.
async function startReceiver() {
  const receiver = await startWebhookReceiver("/webhooks/paypal");
  const eventOf = (w: WebhookInput) =>
    JSON.parse(w.rawBody.toString("utf8")) as {
      event_type: string;
      resource: { id: string; supplementary_data?: { related_ids?: { order_id?: string } } };
    };
  return {
    ...receiver,
    // Waits for the event PayPal sent about this order (or about this refund).
    async next(eventType: string, id: string): Promise<WebhookInput> {
      for (let waited = 0; waited < 5000; waited += 20) {
        const found = receiver.received.find((w) => {
          const event = eventOf(w);
          const orderId = event.resource.supplementary_data?.related_ids?.order_id;
          return event.event_type === eventType && (orderId === id || event.resource.id === id);
        });
        if (found) return found;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`no ${eventType} webhook for ${id}`);
    },
  };
}

describe("paypal connector", () => {
  let h: PaypalHarness;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    receiver = await startReceiver();
    h = await startPaypalHarness({ webhook: { url: receiver.url, webhookId: "8PT597110X687430LKGECATA" } });
  });
  afterAll(async () => {
    await h?.close();
    await receiver?.close();
  });

  it("sends the buyer to PayPal's approval page and captures after approval", async () => {
    const input = payment({ returnUrl: "https://shop.example/return" });
    const created = await h.connector.createPayment(h.ctx, input);
    expect(created.status).toBe("requires_action");
    expect(created.redirectUrl).toBe(`${h.emulator.url}/checkoutnow?token=${created.providerPaymentId}`);

    const approval = await fetch(created.redirectUrl ?? "", { redirect: "manual" });
    expect(approval.status).toBe(302);
    expect(approval.headers.get("location")).toMatch(/^https:\/\/shop\.example\/return\?token=.+&PayerID=.+/);

    const approved = await h.connector.syncPayment(h.ctx, { ...input, providerPaymentId: created.providerPaymentId });
    expect(approved).toMatchObject({ status: "requires_capture", amountCapturable: 2500n });
    const event = await h.connector.parseWebhook(h.ctx, await receiver.next("CHECKOUT.ORDER.APPROVED", created.providerPaymentId));
    expect(event).toMatchObject({ kind: "payment", status: "requires_capture", attemptId: input.attemptId });

    const captured = await h.connector.capturePayment(h.ctx, {
      providerPaymentId: created.providerPaymentId,
      amount: 2500n,
      currency: "USD",
      idempotencyKey: `cap_${input.attemptId}`,
    });
    expect(captured).toMatchObject({ status: "succeeded", amountCaptured: 2500n });
  });

  it("authorizes a buyer-approved order before a partial capture", async () => {
    const created = await h.connector.createPayment(h.ctx, payment({ captureMethod: "manual" }));
    expect(created.status).toBe("requires_action");
    expect(created.redirectUrl).toContain("/checkoutnow?token=");
    expect((await fetch(created.redirectUrl ?? "")).status).toBe(200);

    const capture = {
      providerPaymentId: created.providerPaymentId,
      amount: 1000n,
      currency: "USD",
      idempotencyKey: `cap_${created.providerPaymentId}`,
    };
    const captured = await h.connector.capturePayment(h.ctx, capture);
    expect(captured).toMatchObject({ status: "succeeded", amountCaptured: 1000n });
    // The same capture again is PayPal's replay, not a second capture.
    expect(await h.connector.capturePayment(h.ctx, capture)).toEqual(captured);
    expect(h.paypal.order(created.providerPaymentId)?.captureIds).toHaveLength(1);
  });

  it("normalizes an insufficient-funds decline and keeps PayPal's processor code", async () => {
    const declined = await h.connector.createPayment(
      h.ctx,
      payment({ paymentMethodToken: paypalTestTokens.insufficientFunds }),
    );
    expect(declined.failure).toMatchObject({
      reason: "PROVIDER_DECLINED",
      declineCode: "insufficient_funds",
      providerCode: "5120",
    });
    const synced = await h.connector.syncPayment(h.ctx, {
      attemptId: "ignored",
      providerPaymentId: declined.providerPaymentId,
      amount: 2500n,
      currency: "USD",
    });
    expect(synced?.status).toBe("declined");
  });

  it("rejects currencies and precisions PayPal does not take before calling it", async () => {
    const before = h.emulator.requestCount();
    for (const currency of ["INR", "KWD"]) {
      const err = await expectConnectorError(h.connector.createPayment(h.ctx, payment({ currency, paymentMethodToken: paypalTestTokens.succeed })));
      expect(err.kind).toBe("invalid_request");
    }
    // HUF has two ISO decimals, but PayPal takes whole forints only.
    const fractional = await expectConnectorError(h.connector.createPayment(h.ctx, payment({ currency: "HUF", amount: 1250n, paymentMethodToken: paypalTestTokens.succeed })));
    expect(fractional.kind).toBe("invalid_request");
    expect(h.emulator.requestCount()).toBe(before);

    const whole = await h.connector.createPayment(h.ctx, payment({ currency: "HUF", amount: 1200n, paymentMethodToken: paypalTestTokens.succeed }));
    expect(await h.providerAmount(whole.providerPaymentId)).toBe("12");
    expect(whole.amountCaptured).toBe(1200n);
    expect(h.connector.currencies).not.toContain("INR");
  });

  it("reuses its access token and replaces one PayPal stopped honouring", async () => {
    await h.connector.createPayment(h.ctx, payment({ paymentMethodToken: paypalTestTokens.succeed }));
    const issued = h.paypal.accessTokensIssued();
    await h.connector.createPayment(h.ctx, payment({ paymentMethodToken: paypalTestTokens.succeed }));
    expect(h.paypal.accessTokensIssued()).toBe(issued);

    h.paypal.revokeAccessTokens();
    const result = await h.connector.createPayment(h.ctx, payment({ paymentMethodToken: paypalTestTokens.succeed }));
    expect(result.status).toBe("succeeded");
    expect(h.paypal.accessTokensIssued()).toBe(issued + 1);
  });

  it("treats PayPal's business-rule refusals as invalid requests", async () => {
    const paid = await h.connector.createPayment(h.ctx, payment({ paymentMethodToken: paypalTestTokens.succeed }));
    const cancel = await expectConnectorError(h.connector.cancelPayment(h.ctx, { providerPaymentId: paid.providerPaymentId, idempotencyKey: `cancel_${paid.providerPaymentId}` }));
    expect(cancel.kind).toBe("invalid_request");
    const capture = await expectConnectorError(
      h.connector.capturePayment(h.ctx, { providerPaymentId: paid.providerPaymentId, amount: 2500n, currency: "USD", idempotencyKey: `cap_${paid.providerPaymentId}` }),
    );
    expect(capture).toMatchObject({ kind: "invalid_request", details: { providerCode: "ORDER_ALREADY_CAPTURED", httpStatus: 422 } });
  });

  it("maps every delivered payment and refund webhook", async () => {
    const manual = await h.connector.createPayment(h.ctx, payment({ captureMethod: "manual", paymentMethodToken: paypalTestTokens.succeed }));
    const order = manual.providerPaymentId;
    expect(await h.connector.parseWebhook(h.ctx, await receiver.next("PAYMENT.AUTHORIZATION.CREATED", order))).toMatchObject({
      kind: "payment",
      providerPaymentId: order,
      status: "requires_capture",
    });
    await h.connector.capturePayment(h.ctx, { providerPaymentId: order, amount: 2000n, currency: "USD", idempotencyKey: `cap_${order}` });
    expect(await h.connector.parseWebhook(h.ctx, await receiver.next("PAYMENT.CAPTURE.COMPLETED", order))).toMatchObject({
      kind: "payment",
      providerPaymentId: order,
      status: "succeeded",
      amountCaptured: 2000n,
    });
    const refund = await h.connector.refundPayment(h.ctx, {
      providerPaymentId: order,
      amount: 500n,
      currency: "USD",
      refundId: `re_${order}`,
      idempotencyKey: `re_${order}`,
    });
    const refundEvent = await receiver.next("PAYMENT.CAPTURE.REFUNDED", refund.providerRefundId);
    expect(await h.connector.parseWebhook(h.ctx, refundEvent)).toMatchObject({
      kind: "refund",
      providerRefundId: refund.providerRefundId,
      providerPaymentId: order,
      status: "succeeded",
    });

    const voidable = await h.connector.createPayment(h.ctx, payment({ captureMethod: "manual", paymentMethodToken: paypalTestTokens.succeed }));
    await h.connector.cancelPayment(h.ctx, { providerPaymentId: voidable.providerPaymentId, idempotencyKey: `cancel_${voidable.providerPaymentId}` });
    expect(await h.connector.parseWebhook(h.ctx, await receiver.next("PAYMENT.AUTHORIZATION.VOIDED", voidable.providerPaymentId))).toMatchObject({
      providerPaymentId: voidable.providerPaymentId,
      status: "canceled",
    });

    const declined = await h.connector.createPayment(h.ctx, payment({ paymentMethodToken: paypalTestTokens.decline }));
    expect(await h.connector.parseWebhook(h.ctx, await receiver.next("PAYMENT.CAPTURE.DENIED", declined.providerPaymentId))).toMatchObject({
      providerPaymentId: declined.providerPaymentId,
      status: "declined",
      failure: { declineCode: "card_declined", providerCode: "0500" },
    });

  });

  it("ignores event types it does not map, once verified", async () => {
    const paid = await h.connector.createPayment(h.ctx, payment({ paymentMethodToken: paypalTestTokens.succeed }));
    const event = h.paypal.webhookEvent("PAYMENT.CAPTURE.COMPLETED", paid.providerPaymentId, h.emulator.url) as Record<string, unknown>;
    const signed = h.paypal.signWebhook(
      { ...event, event_type: "PAYMENT.CAPTURE.REVERSED" },
      { apiUrl: h.emulator.url, webhookId: "8PT597110X687430LKGECATA" },
    );
    const parsed = await h.connector.parseWebhook(h.ctx, { rawBody: Buffer.from(signed.body), headers: signed.headers, url: "" });
    expect(parsed).toEqual({ providerEventId: event.id, kind: "ignored" });
  });

  it("rejects a webhook signed for another webhook id", async () => {
    const paid = await h.connector.createPayment(h.ctx, payment({ paymentMethodToken: paypalTestTokens.succeed }));
    const webhook = h.webhook("PAYMENT.CAPTURE.COMPLETED", paid.providerPaymentId);
    const otherAccount = { ...h.ctx, credentials: { ...h.ctx.credentials, webhook_id: "1JE4291016473214C" } };
    const err = await expectConnectorError(h.connector.parseWebhook(otherAccount, webhook));
    expect(err.kind).toBe("invalid_signature");
  });
});
