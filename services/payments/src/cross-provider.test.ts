import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { AttemptStatus, PaymentStatus } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { describeEachEngine } from "@onerouter/core/testing";
import type { RunningEmulator } from "@onerouter/sandbox";
import { startSandboxProvider } from "@onerouter/sandbox";
import { startStripeTestBed, testSecretKey, testWebhookSecret, type StripeTestBed } from "./connectors/stripe/connector.testing";
import { addSandboxAccount, newTenant, sandboxPayments, setRoutingProfile, startTestPaymentsRoom, type TestPaymentsRoom } from "../test/index";

// Failover between two different providers: Stripe (the real connector and
// SDK against the Stripe emulator) first, the sandbox second. Tokens belong
// to one provider, so the payment carries one per provider.

describeEachEngine("failover across providers", (engine) => {
  let app: TestPaymentsRoom;
  let stripe: StripeTestBed;
  let sandbox: RunningEmulator;

  beforeAll(async () => {
    app = await startTestPaymentsRoom(engine, { ONEROUTER_PROVIDER_TIMEOUT_MS: "1000" });
    stripe = await startStripeTestBed();
    sandbox = await startSandboxProvider();
  });
  afterEach(async () => stripe.running.setFailure({ mode: "none" }));
  afterAll(async () => {
    await app?.close();
    await stripe?.close();
    await sandbox?.close();
  });

  async function stripeThenSandbox(name: string) {
    const tenant = await newTenant(app, name);
    app.providerOutbound.allowBaseUrls(stripe.running.url);
    const stripeAccount = await app.accounts.create({
      tenantId: tenant.id,
      environment: "test",
      provider: "stripe",
      category: "payments",
      displayName: "Stripe",
      credentials: { secret_key: testSecretKey, webhook_secret: testWebhookSecret },
      settings: { base_url: stripe.running.url },
      enabled: true,
    });
    const sandboxAccount = await addSandboxAccount(app, tenant.id, { base_url: sandbox.url });
    await setRoutingProfile(app, tenant.id, {
      strategy: RoutingStrategy.PRIORITY,
      targets: [{ providerAccountId: stripeAccount.id }, { providerAccountId: sandboxAccount.id }],
    });
    return { tenant, stripeAccount, sandboxAccount };
  }

  const tokens = { stripe: "pm_card_visa", sandbox: "tok_sandbox_success" };

  it("charges through Stripe with its own token when Stripe is up", async () => {
    const { tenant, stripeAccount } = await stripeThenSandbox("StripeUp");
    const { payment } = await tenant.client.createPayment({
      amount: 2000n,
      currency: "USD",
      paymentMethod: { providerTokens: tokens },
    });
    expect(payment).toMatchObject({ status: PaymentStatus.SUCCEEDED, provider: "stripe", providerAccountId: stripeAccount.id });
    expect(await stripe.chargeCount(payment!.attempts[0]!.id)).toBe(1);
  });

  it("moves the payment to the sandbox with the sandbox's token when Stripe is down", async () => {
    const { tenant, stripeAccount, sandboxAccount } = await stripeThenSandbox("StripeDown");
    await stripe.running.setFailure({ mode: "down" });
    const { payment } = await tenant.client.createPayment({
      amount: 2000n,
      currency: "USD",
      paymentMethod: { providerTokens: tokens },
    });
    expect(payment).toMatchObject({ status: PaymentStatus.SUCCEEDED, provider: "sandbox" });
    expect(payment!.attempts.map((a) => [a.providerAccountId, a.status])).toEqual([
      [stripeAccount.id, AttemptStatus.FAILED],
      [sandboxAccount.id, AttemptStatus.SUCCEEDED],
    ]);
    expect(await sandboxPayments(sandbox.url, sandboxAccount.apiKey)).toHaveLength(1);
  });

  it("skips providers the payment has no token for", async () => {
    const { tenant, sandboxAccount } = await stripeThenSandbox("SandboxOnly");
    const before = stripe.running.requestCount();
    const { payment } = await tenant.client.createPayment({
      amount: 700n,
      currency: "USD",
      paymentMethod: { providerTokens: { sandbox: "tok_sandbox_success" } },
    });
    expect(payment).toMatchObject({ status: PaymentStatus.SUCCEEDED, providerAccountId: sandboxAccount.id });
    expect(payment!.attempts).toHaveLength(1);
    expect(stripe.running.requestCount()).toBe(before);
  });

  it("passes over Stripe, which needs a token of its own, for a payment without one, calling it never", async () => {
    const { tenant, sandboxAccount } = await stripeThenSandbox("NoToken");
    const before = stripe.running.requestCount();
    const { payment } = await tenant.client.createPayment({ amount: 2500n, currency: "USD" });
    expect(payment).toMatchObject({ status: PaymentStatus.SUCCEEDED, providerAccountId: sandboxAccount.id });
    expect(payment!.attempts).toHaveLength(1);
    expect(stripe.running.requestCount()).toBe(before);

    // With nowhere else to go, the payment fails saying what it lacks.
    await app.accounts.update({ tenantId: tenant.id, environment: "test" }, sandboxAccount.id, { enabled: false });
    const { payment: refused } = await tenant.client.createPayment({ amount: 2500n, currency: "USD" });
    expect(refused?.status).toBe(PaymentStatus.FAILED);
    expect(refused!.attempts).toHaveLength(0);
    expect(refused!.error).toMatchObject({ reason: "PAYMENT_METHOD_REQUIRED", provider: "stripe" });
    expect(refused!.error!.message).toContain("paymentMethod.providerTokens for stripe");
    expect(stripe.running.requestCount()).toBe(before);
  });

  it("does not fail over on a Stripe 500, whose outcome Stripe calls indeterminate, while its search may still lag", async () => {
    const { tenant, sandboxAccount } = await stripeThenSandbox("Stripe500");
    await stripe.running.setFailure({ mode: "error_5xx", count: 1 });
    const { payment } = await tenant.client.createPayment({
      amount: 900n,
      currency: "USD",
      paymentMethod: { providerTokens: tokens },
    });
    expect(payment?.status).toBe(PaymentStatus.PROCESSING);
    expect(payment!.attempts.map((a) => a.status)).toEqual([AttemptStatus.UNKNOWN]);
    expect(payment!.attempts[0]!.error).toMatchObject({ reason: "PROVIDER_UNAVAILABLE", provider: "stripe" });
    expect(await sandboxPayments(sandbox.url, sandboxAccount.apiKey)).toHaveLength(0);
  });

  it("keeps Stripe's connection alive across payments", async () => {
    const { tenant } = await stripeThenSandbox("KeptAlive");
    const [connections, requests] = [stripe.running.connectionCount(), stripe.running.requestCount()];
    for (const amount of [1100n, 1200n]) {
      const { payment } = await tenant.client.createPayment({ amount, currency: "USD", paymentMethod: { providerTokens: tokens } });
      expect(payment?.status).toBe(PaymentStatus.SUCCEEDED);
    }
    expect(stripe.running.requestCount() - requests).toBeGreaterThanOrEqual(2);
    expect(stripe.running.connectionCount() - connections).toBeLessThanOrEqual(1);
  });

  it("sends a payment once more on a fresh connection when Stripe closes the kept one as it is reused, and charges once", async () => {
    const { tenant, stripeAccount, sandboxAccount } = await stripeThenSandbox("ClosedOnReuse");
    const create = (amount: bigint) => tenant.client.createPayment({ amount, currency: "USD", paymentMethod: { providerTokens: tokens } });
    await create(1300n);
    await stripe.running.setFailure({ mode: "close_reused", count: 1 });
    const connections = stripe.running.connectionCount();
    const { payment } = await create(1400n);
    expect(stripe.running.failure().mode).toBe("none");
    expect(stripe.running.connectionCount() - connections).toBe(1);
    expect(payment).toMatchObject({ status: PaymentStatus.SUCCEEDED, providerAccountId: stripeAccount.id });
    expect(payment!.attempts.map((a) => a.status)).toEqual([AttemptStatus.SUCCEEDED]);
    expect(await stripe.chargeCount(payment!.attempts[0]!.id)).toBe(1);
    expect(await sandboxPayments(sandbox.url, sandboxAccount.apiKey)).toHaveLength(0);
  });

  it("leaves a payment ambiguous when a fresh connection is reset after Stripe read it, and never fails it over", async () => {
    const { tenant, sandboxAccount } = await stripeThenSandbox("ResetFresh");
    // Dropping every connection leaves none to reuse.
    await stripe.running.setFailure({ mode: "down" });
    await stripe.running.setFailure({ mode: "reset_after_accept" });
    const { payment } = await tenant.client.createPayment({ amount: 1500n, currency: "USD", paymentMethod: { providerTokens: tokens } });
    expect(payment?.status).toBe(PaymentStatus.PROCESSING);
    expect(payment!.attempts.map((a) => a.status)).toEqual([AttemptStatus.UNKNOWN]);
    expect(payment!.attempts[0]!.error).toMatchObject({ reason: "PROVIDER_CONNECTION_LOST", provider: "stripe" });
    expect(await sandboxPayments(sandbox.url, sandboxAccount.apiKey)).toHaveLength(0);

    await stripe.running.setFailure({ mode: "none" });
    const resolved = (await tenant.client.getPayment({ id: payment!.id })).payment;
    expect(resolved).toMatchObject({ status: PaymentStatus.SUCCEEDED, provider: "stripe" });
    expect(await stripe.chargeCount(payment!.attempts[0]!.id)).toBe(1);
  });
});
