import { afterAll, beforeAll, expect, it } from "vitest";
import { RoutingService, RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { Category } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { MessageStatus, MessagingService, type Message } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { describeEachEngine } from "@onerouter/core/testing";
import { addTestAccount, newTestTenant, setRoutingProfile } from "@onerouter/routing/testing";
import { apiClient, startTestOneRouter, type TestOneRouter } from "@onerouter/server/testing";
import { startTwilioTestBed, type TwilioTestBed } from "./connectors/twilio/connector.testing";
import { startVonageTestBed, type VonageTestBed } from "./connectors/vonage/connector.testing";

// Choosing the provider per message: CHEAPEST by destination country on the
// published per-segment prices (or the tenant's own), rules, and weights,
// over the Twilio and Vonage emulators.

describeEachEngine("messaging routing", (engine) => {
  let app: TestOneRouter;
  let twilio: TwilioTestBed;
  let vonage: VonageTestBed;

  beforeAll(async () => {
    app = await startTestOneRouter({ engine });
    twilio = await startTwilioTestBed();
    vonage = await startVonageTestBed();
  });
  afterAll(async () => {
    await app?.close();
    await twilio?.close();
    await vonage?.close();
  });

  // The whole product: RoutingService (admin) publishes the prices messaging routes on.
  async function newTenant(name: string) {
    const { id, testSecret } = await newTestTenant(app, name);
    return { id, client: apiClient(app, MessagingService, testSecret) };
  }
  const addAccount = (tenantId: string, provider: string, ctx: { credentials: Record<string, string>; settings: Record<string, string> }) =>
    addTestAccount(app, tenantId, { category: "messaging", provider, credentials: ctx.credentials, settings: ctx.settings });

  async function tenantWith(name: string, strategy: RoutingStrategy) {
    const tenant = await newTenant(name);
    const tw = await addAccount(tenant.id, "twilio", twilio.ctx);
    const vo = await addAccount(tenant.id, "vonage", vonage.ctx);
    await setRoutingProfile(app, tenant.id, "messaging", { strategy, targets: [{ providerAccountId: tw.id, weight: 1 }, { providerAccountId: vo.id, weight: 1 }] });
    return { tenant, tw, vo };
  }

  const sms = (to: string, body = "Your code is 123456") => ({ content: { case: "sms" as const, value: { to, body } } });
  const reached = async (message: Message) => ({
    twilio: await twilio.sentCount(message.attempts[0]!.id),
    vonage: await vonage.sentCount(message.attempts[0]!.id),
  });

  it("sends each destination through the provider cheapest there, and records the price", async () => {
    const { tenant, tw, vo } = await tenantWith("Cheapest", RoutingStrategy.CHEAPEST);
    // Published: Twilio USD 0.0079 and Vonage 0.00809 per US segment; 0.0832 and 0.0453 in India.
    const us = (await tenant.client.sendMessage(sms("+14155550100"))).message!;
    expect(us).toMatchObject({ status: MessageStatus.SENT, provider: "twilio", providerAccountId: tw.id, country: "US", priceMicros: 7_900n, priceCurrency: "USD" });
    expect(await reached(us)).toEqual({ twilio: 1, vonage: 0 });

    const india = (await tenant.client.sendMessage(sms("+919876543210"))).message!;
    expect(india).toMatchObject({ status: MessageStatus.SENT, provider: "vonage", providerAccountId: vo.id, country: "IN", priceMicros: 45_300n });
    expect(await reached(india)).toEqual({ twilio: 0, vonage: 1 });

    // Every segment is paid for.
    const long = (await tenant.client.sendMessage(sms("+919876543210", "x".repeat(200)))).message!;
    expect(long).toMatchObject({ provider: "vonage", segments: 2, priceMicros: 90_600n });
  });

  it("publishes its price tables through RoutingService and takes the tenant's own prices from the routing profile", async () => {
    const { id, testSecret } = await newTestTenant(app, "Negotiated");
    const routing = apiClient(app, RoutingService, testSecret);
    const { fees: published } = await routing.listDefaultFees({ category: Category.MESSAGING });
    expect(published).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ provider: "twilio", currency: "USD", country: "US", fixedMicros: 7_900n }),
        expect.objectContaining({ provider: "vonage", currency: "USD", country: "IN", fixedMicros: 45_300n }),
        expect.objectContaining({ provider: "sendgrid", currency: "USD", country: "", fixedMicros: 1_000n }),
      ]),
    );

    const tw = await addAccount(id, "twilio", twilio.ctx);
    const vo = await addAccount(id, "vonage", vonage.ctx);
    await routing.updateRoutingProfile({
      routingProfile: {
        category: Category.MESSAGING,
        strategy: RoutingStrategy.CHEAPEST,
        targets: [{ providerAccountId: tw.id }, { providerAccountId: vo.id }],
        fees: [{ provider: "vonage", currency: "USD", country: "US", fixedMicros: 5_000n }],
      },
    });
    const client = apiClient(app, MessagingService, testSecret);
    const us = (await client.sendMessage(sms("+14155550100"))).message!;
    expect(us).toMatchObject({ provider: "vonage", priceMicros: 5_000n });
  });

  it("lets a rule on the destination country pick the provider", async () => {
    const tenant = await newTenant("Rules");
    const tw = await addAccount(tenant.id, "twilio", twilio.ctx);
    const vo = await addAccount(tenant.id, "vonage", vonage.ctx);
    await setRoutingProfile(app, tenant.id, "messaging", {
      strategy: RoutingStrategy.PRIORITY,
      targets: [{ providerAccountId: tw.id }, { providerAccountId: vo.id }],
      rules: [{ name: "india", condition: { countries: ["IN"] }, targets: [{ providerAccountId: vo.id }] }],
    });
    expect((await tenant.client.sendMessage(sms("+919876543210"))).message?.provider).toBe("vonage");
    expect((await tenant.client.sendMessage(sms("+447700900123"))).message?.provider).toBe("twilio");
  });

  it("spreads WEIGHTED traffic over both providers", async () => {
    const { tenant } = await tenantWith("Weighted", RoutingStrategy.WEIGHTED);
    const providers = new Set<string>();
    // With even weights, 20 messages all going one way has odds of 2 in a million.
    for (let i = 0; i < 20; i++) providers.add((await tenant.client.sendMessage(sms("+14155550100"))).message!.provider);
    expect([...providers].sort()).toEqual(["twilio", "vonage"]);
  });
});
