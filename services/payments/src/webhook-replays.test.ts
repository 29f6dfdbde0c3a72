import { afterAll, beforeAll, expect, it } from "vitest";
import { RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { CaptureMethod, PaymentStatus } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { inboundWebhookPath } from "@onerouter/routing";
import { describeEachEngine } from "@onerouter/core/testing";
import { razorpayTestTokens } from "@onerouter/emulators/razorpay";
import { addTestAccount } from "@onerouter/routing/testing";
import { razorpayTestCredentials, startRazorpayHarness, type RazorpayHarness } from "./connectors/razorpay/connector.testing";
import { startStripeTestBed, testSecretKey, testWebhookSecret, type StripeTestBed } from "./connectors/stripe/connector.testing";
import { newTenant, paymentEvents, setRoutingProfile, type TestTenant, startTestPaymentsRoom, type TestPaymentsRoom } from "../test/index";

// Replays and forgeries of payment webhooks, through the real HTTP route,
// signed by the emulators' own code: none changes anything.

describeEachEngine("payment webhook replays", (engine) => {
  let app: TestPaymentsRoom;
  let stripe: StripeTestBed;
  let razorpay: RazorpayHarness;

  beforeAll(async () => {
    app = await startTestPaymentsRoom(engine);
    stripe = await startStripeTestBed();
    razorpay = await startRazorpayHarness();
  });
  afterAll(async () => {
    await app?.close();
    await stripe?.close();
    await razorpay?.close();
  });

  async function tenantWith(provider: "stripe" | "razorpay"): Promise<{ tenant: TestTenant; accountId: string }> {
    const tenant = await newTenant(app, `Replays ${provider}`);
    const account = await addTestAccount(app, tenant.id, {
      provider,
      category: "payments",
      credentials:
        provider === "stripe" ? { secret_key: testSecretKey, webhook_secret: testWebhookSecret } : { ...razorpayTestCredentials },
      settings: { base_url: provider === "stripe" ? stripe.running.url : razorpay.emulator.url },
    });
    await setRoutingProfile(app, tenant.id, { strategy: RoutingStrategy.PRIORITY, targets: [{ providerAccountId: account.id }] });
    return { tenant, accountId: account.id };
  }

  async function post(provider: string, accountId: string, body: string | Buffer, headers: Record<string, string>) {
    const res = await fetch(`${app.baseUrl}${inboundWebhookPath(provider, accountId)}`, {
      method: "POST",
      body: typeof body === "string" ? body : new Uint8Array(body),
      headers: { "content-type": "application/json", ...headers },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  const storedEvents = async (accountId: string) =>
    (await app.db.knex("inbound_provider_events").where({ provider_account_id: accountId })).length;

  it("stripe: refuses an event signed beyond the tolerance in the future as in the past", async () => {
    const { tenant, accountId } = await tenantWith("stripe");
    const { payment } = await tenant.client.createPayment({
      amount: 1500n,
      currency: "USD",
      captureMethod: CaptureMethod.MANUAL,
      paymentMethod: { token: "pm_card_visa" },
    });
    expect(payment?.status).toBe(PaymentStatus.REQUIRES_CAPTURE);
    // Captured at Stripe behind OneRouter's back: only a webhook tells.
    const captured = await fetch(`${stripe.running.url}/v1/payment_intents/${payment!.providerPaymentId}/capture`, {
      method: "POST",
      headers: { authorization: `Bearer ${testSecretKey}` },
    });
    expect(captured.status).toBe(200);
    const now = Math.floor(Date.now() / 1000);
    for (const signedAt of [now + 3600, now + 330, now - 3600]) {
      const { payload, signature } = stripe.stripe.signedPaymentIntentEvent(payment!.providerPaymentId, { signedAt });
      expect((await post("stripe", accountId, payload, { "stripe-signature": signature })).status, `signed at now${signedAt - now}s`).toBe(400);
    }
    expect((await tenant.client.getPayment({ id: payment!.id })).payment?.status).toBe(PaymentStatus.REQUIRES_CAPTURE);
    expect(await storedEvents(accountId)).toBe(0);

    const { payload, signature } = stripe.stripe.signedPaymentIntentEvent(payment!.providerPaymentId, { signedAt: now + 60 });
    expect((await post("stripe", accountId, payload, { "stripe-signature": signature })).status, "within the clock skew").toBe(200);
    expect((await tenant.client.getPayment({ id: payment!.id })).payment?.status).toBe(PaymentStatus.SUCCEEDED);
  });

  it("razorpay: a signed body replayed under a new X-Razorpay-Event-Id is a duplicate, applied once", async () => {
    const { tenant, accountId } = await tenantWith("razorpay");
    const { payment } = await tenant.client.createPayment({
      amount: 25000n,
      currency: "INR",
      captureMethod: CaptureMethod.MANUAL,
      paymentMethod: { token: razorpayTestTokens.success },
    });
    expect(payment?.status).toBe(PaymentStatus.REQUIRES_CAPTURE);
    const authorized = razorpay.razorpay.signedWebhook("payment.authorized", { paymentId: payment!.providerPaymentId });
    expect(await post("razorpay", accountId, authorized.body, authorized.headers)).toEqual({
      status: 200,
      body: { received: true, duplicate: false },
    });
    const eventsBefore = await paymentEvents(app, payment!.id);

    const replayed = { ...authorized.headers, "x-razorpay-event-id": "evt_replayed000001" };
    expect(await post("razorpay", accountId, authorized.body, replayed)).toEqual({ status: 200, body: { received: true, duplicate: true } });
    // Razorpay's own retry: the same body under the same event id.
    expect(await post("razorpay", accountId, authorized.body, authorized.headers)).toEqual({
      status: 200,
      body: { received: true, duplicate: true },
    });
    expect(await storedEvents(accountId)).toBe(1);
    expect(await paymentEvents(app, payment!.id)).toEqual(eventsBefore);

    // The next event about the same payment is news.
    await tenant.client.capturePayment({ id: payment!.id });
    const capturedEvent = razorpay.razorpay.signedWebhook("payment.captured", { paymentId: payment!.providerPaymentId });
    expect((await post("razorpay", accountId, capturedEvent.body, capturedEvent.headers)).body.duplicate).toBe(false);
    expect(await storedEvents(accountId)).toBe(2);
  });
});
