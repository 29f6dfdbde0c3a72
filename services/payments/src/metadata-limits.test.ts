import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { PaymentStatus } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { describeEachEngine } from "@onerouter/core/testing";
import { addTestAccount } from "@onerouter/routing/testing";
import { startStripeTestBed, testSecretKey, testWebhookSecret, type StripeTestBed } from "./connectors/stripe/connector.testing";
import { failure, newTenant, setRoutingProfile, type TestTenant, startTestPaymentsRoom, type TestPaymentsRoom } from "../test/index";

// Metadata a provider would refuse is refused with the request, before any
// provider is called: Stripe takes 50 keys (OneRouter adds 2 of its own),
// keys up to 40 characters without [ or ], values up to 500.

describeEachEngine("payment metadata within the providers' limits", (engine) => {
  let app: TestPaymentsRoom;
  let stripe: StripeTestBed;
  let tenant: TestTenant;

  beforeAll(async () => {
    app = await startTestPaymentsRoom(engine);
    stripe = await startStripeTestBed();
    tenant = await newTenant(app, "Metadata");
    const account = await addTestAccount(app, tenant.id, {
      provider: "stripe",
      category: "payments",
      credentials: { secret_key: testSecretKey, webhook_secret: testWebhookSecret },
      settings: { base_url: stripe.running.url },
    });
    await setRoutingProfile(app, tenant.id, { strategy: RoutingStrategy.PRIORITY, targets: [{ providerAccountId: account.id }] });
  });
  afterAll(async () => {
    await app?.close();
    await stripe?.close();
  });

  const keys = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`key_${i}`, `value ${i}`]));
  const pay = (metadata: Record<string, string>) =>
    tenant.client.createPayment({ amount: 1000n, currency: "USD", paymentMethod: { token: "pm_card_visa" }, metadata });

  it("refuses metadata over a provider's limits as INVALID_FIELD on metadata, calling no provider", async () => {
    const before = stripe.running.requestCount();
    for (const metadata of [keys(49), { "order[id]": "1" }, { [`k${"x".repeat(40)}`]: "1" }, { note: "x".repeat(501) }]) {
      const refused = await failure(pay(metadata));
      expect(refused, JSON.stringify(Object.keys(metadata).slice(0, 1))).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_FIELD" });
      expect(refused.field).toMatch(/^metadata/);
    }
    expect(stripe.running.requestCount()).toBe(before);
    expect(await app.db.knex("payments").where({ tenant_id: tenant.id })).toHaveLength(0);
  });

  it("takes as much as every provider keeps, and Stripe keeps all of it", async () => {
    const { payment } = await pay(keys(48));
    expect(payment?.status).toBe(PaymentStatus.SUCCEEDED);
    expect(Object.keys(payment!.metadata)).toHaveLength(48);
  });
});
