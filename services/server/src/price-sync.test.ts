import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RoutingService, RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { MessagingService } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { twilioEmulator, type TwilioEmulator } from "@onerouter/emulators/twilio";
import { vonageEmulator, type VonageEmulator } from "@onerouter/emulators/vonage";
import { addTestAccount, newTestTenant, outboxEvents, setRoutingProfile } from "@onerouter/routing/testing";
import { startEmulator, type RunningEmulator } from "@onerouter/sandbox";
import { waitFor } from "@onerouter/webhooks/testing";
import { apiClient, startTestOneRouter, type TestOneRouter } from "../test/index";

// Price sync over the whole product: Twilio's and Vonage's pricing APIs (the
// emulators, through the providers' SDKs) are fetched on a schedule into a
// price history; CHEAPEST routes on the latest price; a change beyond the
// threshold is told once as pricing.changed.

const syncIntervalMs = 300;
const twilioCredentials = { account_sid: "AC0123456789abcdef0123456789abcdef", auth_token: "0123456789abcdef0123456789abcdef" };
const vonageCredentials = { api_key: "a1b2c3d4", api_secret: "Secret0123456789", signature_secret: "sig-secret-0123456789" };

describe("price sync", () => {
  let app: TestOneRouter;
  let twilio: TwilioEmulator;
  let vonage: VonageEmulator;
  const running: RunningEmulator[] = [];

  beforeAll(async () => {
    app = await startTestOneRouter({
      env: { ONEROUTER_PRICE_SYNC_INTERVAL_MS: String(syncIntervalMs), ONEROUTER_PRICE_CHANGE_THRESHOLD_PERCENT: "5" },
    });
    twilio = twilioEmulator({ accountSid: twilioCredentials.account_sid, authToken: twilioCredentials.auth_token });
    vonage = vonageEmulator({ apiKey: vonageCredentials.api_key, apiSecret: vonageCredentials.api_secret, signatureSecret: vonageCredentials.signature_secret, signatureMethod: "md5hash" });
    running.push(await startEmulator(twilio), await startEmulator(vonage));
  });
  afterAll(async () => {
    await app?.close();
    for (const emulator of running) await emulator.close();
  });

  const pricingEvents = async (tenantId: string) => (await outboxEvents(app)).filter((e) => e.tenantId === tenantId && e.type === "pricing.changed");

  it("routes the next message on a changed published price and tells the change once", async () => {
    const tenant = await newTestTenant(app, "Prices");
    const tw = await addTestAccount(app, tenant.id, {
      category: "messaging",
      provider: "twilio",
      credentials: twilioCredentials,
      settings: { base_url: running[0]!.url, default_from: "+14155550199" },
    });
    const vo = await addTestAccount(app, tenant.id, {
      category: "messaging",
      provider: "vonage",
      credentials: vonageCredentials,
      settings: { base_url: running[1]!.url, default_from: "OneShop" },
    });
    await setRoutingProfile(app, tenant.id, "messaging", { strategy: RoutingStrategy.CHEAPEST, targets: [{ providerAccountId: tw.id }, { providerAccountId: vo.id }] });
    const messaging = apiClient(app, MessagingService, tenant.testSecret);
    const routing = apiClient(app, RoutingService, tenant.testSecret);
    const sms = { content: { case: "sms" as const, value: { to: "+14155550100", body: "Your code is 123456" } } };

    // The first sync records both providers' prices as published: Twilio 0.0079, Vonage 0.00809 per US segment.
    const first = await waitFor("both accounts' first prices", async () => {
      const { priceChanges } = await routing.listPriceHistory({ country: "US" });
      return priceChanges.length === 2 && priceChanges;
    });
    expect(first.map((c) => [c.provider, c.priceMicros, c.previousPriceMicros, c.changePercent]).sort()).toEqual([
      ["twilio", 7_900n, undefined, undefined],
      ["vonage", 8_090n, undefined, undefined],
    ]);
    const before = (await messaging.sendMessage(sms)).message!;
    expect(before).toMatchObject({ provider: "twilio", priceMicros: 7_900n });
    expect(before.attempts[0]!.routingReason).toBe("chosen: price 0.0079 USD");

    // Vonage cuts its US price by about 38 %.
    vonage.setSmsPrice("US", "0.00500");
    const change = await waitFor("the new Vonage price", async () => {
      const { priceChanges } = await routing.listPriceHistory({ providerAccountId: vo.id, country: "US" });
      return priceChanges.length === 2 && priceChanges[0]!;
    });
    expect(change).toMatchObject({ provider: "vonage", currency: "USD", priceMicros: 5_000n, previousPriceMicros: 8_090n });
    expect(change.changePercent).toBeCloseTo(((5_000 - 8_090) / 8_090) * 100, 6);

    const after = (await messaging.sendMessage(sms)).message!;
    expect(after).toMatchObject({ provider: "vonage", providerAccountId: vo.id, priceMicros: 5_000n });

    // Later rounds find the same prices: still exactly one event, for that change.
    await new Promise((resolve) => setTimeout(resolve, syncIntervalMs * 3));
    const events = await pricingEvents(tenant.id);
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toMatchObject({
      case: "pricing",
      value: { providerAccountId: vo.id, provider: "vonage", country: "US", currency: "USD", previousPriceMicros: 8_090n, priceMicros: 5_000n },
    });
  });

  it("records a change below the threshold in the history without an event, and keeps each tenant's history its own", async () => {
    const tenant = await newTestTenant(app, "Small change");
    const other = await newTestTenant(app, "Other");
    const tw = await addTestAccount(app, tenant.id, {
      category: "messaging",
      provider: "twilio",
      credentials: twilioCredentials,
      settings: { base_url: running[0]!.url },
    });
    const routing = apiClient(app, RoutingService, tenant.testSecret);
    await waitFor("the first Twilio prices", async () => (await routing.listPriceHistory({ providerAccountId: tw.id, country: "GB" })).priceChanges.length === 1);
    // 0.0463 to 0.0470: 1.5 %.
    twilio.setSmsPrice("GB", "0.0470");
    const change = await waitFor("the new GB price", async () => {
      const { priceChanges } = await routing.listPriceHistory({ providerAccountId: tw.id, country: "GB" });
      return priceChanges.length === 2 && priceChanges[0]!;
    });
    expect(change.changePercent).toBeCloseTo(((47_000 - 46_300) / 46_300) * 100, 6);
    expect(await pricingEvents(tenant.id)).toHaveLength(0);
    expect((await apiClient(app, RoutingService, other.testSecret).listPriceHistory({ providerAccountId: tw.id })).priceChanges).toHaveLength(0);
    await expect(routing.listPriceHistory({ country: "gb" })).rejects.toMatchObject({ code: 3 });
  });
});
