import http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { expectConnectorError, useTestBed } from "@onerouter/routing/testing";
import type { CreatePaymentInput } from "../connector";
import { stripeConnector } from "./index";
import { startStripeTestBed, type StripeTestBed } from "./connector.testing";

// What the connector does beyond the shared contract, against the emulator.

let counter = 0;
function payment(overrides: Partial<CreatePaymentInput> = {}): CreatePaymentInput {
  counter += 1;
  return {
    attemptId: `att_stripe_${Date.now().toString(36)}_${counter}`,
    paymentId: `pay_stripe_${counter}`,
    amount: 2500n,
    currency: "USD",
    captureMethod: "automatic",
    paymentMethodToken: "pm_card_visa",
    metadata: { order: `ord_${counter}` },
    ...overrides,
  };
}

describe("stripe connector", () => {
  const bed = useTestBed(startStripeTestBed);

  it("sends the amount, currency, capture method and OneRouter ids the way Stripe stores them", async () => {
    const input = payment({ captureMethod: "manual", description: "order 42" });
    const result = await stripeConnector.createPayment(bed().ctx, input);
    expect(bed().stripe.account.paymentIntent(result.providerPaymentId)).toMatchObject({
      amount: 2500,
      currency: "usd",
      capture_method: "manual",
      description: "order 42",
      metadata: {
        order: input.metadata.order,
        onerouter_attempt_id: input.attemptId,
        onerouter_payment_id: input.paymentId,
      },
    });
  });

  it("reports insufficient funds, and replays the same decline for the same attempt", async () => {
    const input = payment({ paymentMethodToken: "pm_card_chargeDeclinedInsufficientFunds" });
    const first = await stripeConnector.createPayment(bed().ctx, input);
    expect(first).toMatchObject({
      status: "declined",
      failure: { reason: "PROVIDER_DECLINED", declineCode: "insufficient_funds", providerCode: "card_declined" },
    });
    const again = await stripeConnector.createPayment(bed().ctx, input);
    expect(again.providerPaymentId).toBe(first.providerPaymentId);
    const synced = await stripeConnector.syncPayment(bed().ctx, {
      attemptId: input.attemptId,
      amount: 2500n,
      currency: "USD",
    });
    expect(synced).toMatchObject({ status: "declined", failure: { declineCode: "insufficient_funds" } });
  });

  it("rejects reusing an attempt id with different parameters, as Stripe's idempotency does", async () => {
    const input = payment();
    await stripeConnector.createPayment(bed().ctx, input);
    const err = await expectConnectorError(stripeConnector.createPayment(bed().ctx, { ...input, amount: 9900n }));
    expect(err.kind).toBe("invalid_request");
    expect(err.details.reason).toBe("PROVIDER_IDEMPOTENCY_KEY_REUSED");
  });

  it("returns the 3D Secure redirect, and sync sees the outcome once the customer authenticates", async () => {
    const result = await stripeConnector.createPayment(
      bed().ctx,
      payment({ paymentMethodToken: "pm_card_authenticationRequired", returnUrl: "https://shop.test/return" }),
    );
    expect(result.status).toBe("requires_action");
    expect(result.redirectUrl).toBeTruthy();
    const page = await fetch(`${result.redirectUrl}?outcome=authenticated`, { redirect: "manual" });
    expect(page.status).toBe(302);
    const back = new URL(page.headers.get("location") ?? "");
    expect(back.origin + back.pathname).toBe("https://shop.test/return");
    expect(back.searchParams.get("payment_intent")).toBe(result.providerPaymentId);
    expect(back.searchParams.get("redirect_status")).toBe("succeeded");
    const synced = await stripeConnector.syncPayment(bed().ctx, {
      attemptId: "ignored when the id is known",
      providerPaymentId: result.providerPaymentId,
      amount: 2500n,
      currency: "USD",
    });
    expect(synced).toMatchObject({ status: "succeeded", amountCaptured: 2500n });
  });

  it("reports failed authentication as a decline", async () => {
    const result = await stripeConnector.createPayment(
      bed().ctx,
      payment({ paymentMethodToken: "pm_card_authenticationRequired", returnUrl: "https://shop.test/return" }),
    );
    await fetch(`${result.redirectUrl}?outcome=failed`, { redirect: "manual" });
    const synced = await stripeConnector.syncPayment(bed().ctx, {
      attemptId: "unused",
      providerPaymentId: result.providerPaymentId,
      amount: 2500n,
      currency: "USD",
    });
    expect(synced).toMatchObject({
      status: "declined",
      failure: { declineCode: "payment_intent_authentication_failure" },
    });
  });

  it("finds nothing for an unknown PaymentIntent id", async () => {
    expect(
      await stripeConnector.syncPayment(bed().ctx, {
        attemptId: "att_unknown",
        providerPaymentId: "pi_unknown",
        amount: 1n,
        currency: "USD",
      }),
    ).toBeNull();
  });

  it("maps Stripe's state errors to invalid_request with Stripe's code", async () => {
    const paid = await stripeConnector.createPayment(bed().ctx, payment());
    const cancel = await expectConnectorError(
      stripeConnector.cancelPayment(bed().ctx, {
        providerPaymentId: paid.providerPaymentId,
        idempotencyKey: `c_${paid.providerPaymentId}`,
      }),
    );
    expect(cancel).toMatchObject({
      kind: "invalid_request",
      details: { providerCode: "payment_intent_unexpected_state", httpStatus: 400 },
    });

    const held = await stripeConnector.createPayment(bed().ctx, payment({ captureMethod: "manual" }));
    const tooMuch = await expectConnectorError(
      stripeConnector.capturePayment(bed().ctx, {
        providerPaymentId: held.providerPaymentId,
        amount: 2600n,
        currency: "USD",
        idempotencyKey: `cap_${held.providerPaymentId}`,
      }),
    );
    expect(tooMuch.kind).toBe("invalid_request");
  });

  it("captures and refunds everything when the amount is zero", async () => {
    const held = await stripeConnector.createPayment(bed().ctx, payment({ captureMethod: "manual" }));
    const captured = await stripeConnector.capturePayment(bed().ctx, {
      providerPaymentId: held.providerPaymentId,
      amount: 0n,
      currency: "USD",
      idempotencyKey: `cap_all_${held.providerPaymentId}`,
    });
    expect(captured.amountCaptured).toBe(2500n);
    const refund = await stripeConnector.refundPayment(bed().ctx, {
      providerPaymentId: held.providerPaymentId,
      amount: 0n,
      currency: "USD",
      refundId: "ref_all",
      idempotencyKey: `ref_all_${held.providerPaymentId}`,
      reason: "requested_by_customer",
    });
    expect(refund.status).toBe("succeeded");
    const charge = bed().stripe.account.chargesOf(held.providerPaymentId)[0];
    expect(charge).toMatchObject({ amount_refunded: 2500, refunded: true });
  });

  it("rejects a three-decimal amount Stripe cannot take without calling Stripe", async () => {
    const before = bed().running.requestCount();
    const err = await expectConnectorError(stripeConnector.createPayment(bed().ctx, payment({ amount: 1234n, currency: "KWD" })));
    expect(err.kind).toBe("invalid_request");
    expect(bed().running.requestCount()).toBe(before);
  });

  it("tells a refused connection (not sent) from a timeout (sent)", async () => {
    await bed().running.setFailure({ mode: "down" });
    try {
      const refused = await expectConnectorError(stripeConnector.createPayment(bed().ctx, payment()));
      expect(refused).toMatchObject({ kind: "not_processed", details: { reason: "PROVIDER_UNAVAILABLE" } });
      expect(refused.message).toContain("ECONNREFUSED");
    } finally {
      await bed().running.setFailure({ mode: "none" });
    }
    await bed().running.setFailure({ mode: "slow", delayMs: 1_000, count: 1 });
    const held = await expectConnectorError(stripeConnector.testCredentials({ ...bed().ctx, timeoutMs: 200 }));
    expect(held).toMatchObject({ kind: "ambiguous", details: { reason: "PROVIDER_TIMEOUT" } });
  });

  it("reports a refused retry after a cut-off first try as ambiguous, since the first may have arrived", async () => {
    // Reads the request, cuts the connection, and stops listening: the SDK's
    // own retry after the reset then finds the port closed.
    const server = http.createServer((req) => {
      req.resume();
      req.on("end", () => {
        req.socket.destroy();
        server.close();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const unreachable = { ...bed().ctx, settings: { base_url: baseUrl } };
    const err = await expectConnectorError(stripeConnector.createPayment(unreachable, payment()));
    expect(err).toMatchObject({ kind: "ambiguous", details: { reason: "PROVIDER_CONNECTION_LOST" } });
  });

  it("treats a name that does not resolve as not sent", async () => {
    const err = await expectConnectorError(
      stripeConnector.testCredentials({ ...bed().ctx, settings: { base_url: "http://stripe-emulator.invalid:9" } }),
    );
    expect(err).toMatchObject({ kind: "not_processed", details: { reason: "PROVIDER_UNAVAILABLE" } });
  });

  it("refuses to call Stripe without a secret key", async () => {
    const err = await expectConnectorError(stripeConnector.testCredentials({ ...bed().ctx, credentials: {} }));
    expect(err).toMatchObject({ kind: "not_processed", details: { reason: "PROVIDER_AUTHENTICATION_FAILED" } });
  });
});

describe("stripe webhook delivery from the emulator", () => {
  it("delivers signed events that the connector verifies and parses", async () => {
    const received: { body: Buffer; headers: http.IncomingHttpHeaders }[] = [];
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        received.push({ body: Buffer.concat(chunks), headers: req.headers });
        res.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/stripe`;
    const bed = await startStripeTestBed({ webhookUrl });
    try {
      const input = payment();
      const result = await stripeConnector.createPayment(bed.ctx, input);
      await expect.poll(() => received.length).toBeGreaterThanOrEqual(2);
      const events = await Promise.all(
        received.map(({ body, headers }) =>
          stripeConnector.parseWebhook(bed.ctx, {
            rawBody: body,
            headers: { "stripe-signature": String(headers["stripe-signature"]) },
            url: webhookUrl,
          }),
        ),
      );
      expect(events).toContainEqual(
        expect.objectContaining({
          kind: "payment",
          status: "succeeded",
          providerPaymentId: result.providerPaymentId,
          attemptId: input.attemptId,
        }),
      );
      await expect.poll(() => bed.stripe.account.events.every((event) => event.pending_webhooks === 0)).toBe(true);
    } finally {
      await bed.close();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });
});
