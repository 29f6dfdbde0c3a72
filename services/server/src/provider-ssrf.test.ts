import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProviderAccountService } from "@onerouter/client/gen/onerouter/admin/v1/provider_accounts_pb";
import { RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { MessagingService } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { PaymentService, PaymentStatus } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { newSandboxApiKey } from "@onerouter/sandbox";
import { failure } from "@onerouter/gatekeeper/testing";
import { addTestAccount, newTestTenant, setRoutingProfile } from "@onerouter/routing/testing";
import { apiClient, startTestOneRouter, type TestOneRouter } from "../test/index";

// Provider calls under the SSRF rules: a tenant cannot point an account at an
// address of its own choosing, an account stored with one never reaches it
// (and the call fails over), and what such an address answers is not echoed.

// A listener on loopback that counts the connections it accepts.
async function countingListener(): Promise<{ url: string; connections(): number; close(): Promise<void> }> {
  let connections = 0;
  const server = net.createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("provider calls under the SSRF rules", () => {
  let app: TestOneRouter;
  let listener: Awaited<ReturnType<typeof countingListener>>;
  // Where a tenant asks the built-in sandbox to send its webhooks.
  let hooks: Awaited<ReturnType<typeof countingListener>>;

  beforeAll(async () => {
    // The default rules: no private, loopback or link-local address is reachable.
    app = await startTestOneRouter({ env: { ONEROUTER_PROVIDER_ALLOWED_CIDRS: "" } });
    listener = await countingListener();
    hooks = await countingListener();
  });
  afterAll(async () => {
    await app?.close();
    await listener?.close();
    await hooks?.close();
  });

  // How many provider webhooks for the account reached this server's own route.
  const inboundEvents = async (accountId: string) =>
    (await app.db.knex("inbound_provider_events").where({ provider_account_id: accountId })).length;

  it.each(["http://127.0.0.1:8080", "http://169.254.169.254/latest/meta-data", "http://10.0.0.5", "https://api.example.com"])(
    "refuses a live tenant's base_url %s",
    async (baseUrl) => {
      const tenant = await newTestTenant(app, "Hostile");
      const accounts = apiClient(app, ProviderAccountService, tenant.liveSecret);
      const created = await failure(
        accounts.createProviderAccount({
          provider: "stripe",
          credentials: { secret_key: "sk_live_x", webhook_secret: "whsec_x" },
          settings: { base_url: baseUrl },
        }),
      );
      expect(created).toMatchObject({ code: Code.InvalidArgument, reason: "BASE_URL_NOT_ALLOWED", field: "settings.base_url" });
      expect(created.message).toContain("ONEROUTER_PROVIDER_BASE_URLS");

      const { providerAccount } = await accounts.createProviderAccount({
        provider: "stripe",
        credentials: { secret_key: "sk_live_x", webhook_secret: "whsec_x" },
      });
      const updated = await failure(
        accounts.updateProviderAccount({ id: providerAccount!.id, settings: { base_url: baseUrl }, updateMask: { paths: ["settings"] } }),
      );
      expect(updated).toMatchObject({ code: Code.InvalidArgument, reason: "BASE_URL_NOT_ALLOWED", field: "settings.base_url" });
    },
  );

  it("never calls a stored base_url that is no longer allowed", async () => {
    const tenant = await newTestTenant(app, "Stale");
    const stale = await app.accounts.create({
      tenantId: tenant.id,
      environment: "test",
      provider: "stripe",
      category: "payments",
      displayName: "stale override",
      credentials: { secret_key: "sk_test_x", webhook_secret: "whsec_x" },
      settings: { base_url: listener.url },
      enabled: true,
    });
    const tested = await apiClient(app, ProviderAccountService, tenant.testSecret).testProviderAccount({ id: stale.id });
    expect(tested).toMatchObject({ ok: false, error: { reason: "PROVIDER_BASE_URL_NOT_ALLOWED", provider: "stripe" } });
    expect(listener.connections()).toBe(0);
  });

  it("refuses a live tenant's sandbox webhook_url, so its payments never reach it", async () => {
    const tenant = await newTestTenant(app, "Hooks");
    const accounts = apiClient(app, ProviderAccountService, tenant.liveSecret);
    const { providerAccount } = await accounts.createProviderAccount({ provider: "sandbox", credentials: { api_key: newSandboxApiKey() } });
    const id = providerAccount!.id;
    const updated = await accounts
      .updateProviderAccount({ id, settings: { webhook_url: `${hooks.url}/hooks` }, updateMask: { paths: ["settings"] } })
      .then(() => undefined, (err: unknown) => err);

    const { payment } = await apiClient(app, PaymentService, tenant.liveSecret).createPayment({ amount: 1500n, currency: "USD" });
    expect(payment).toMatchObject({ status: PaymentStatus.SUCCEEDED, providerAccountId: id });
    // The sandbox sends the payment's webhook either to the listener or to this server.
    await expect.poll(async () => hooks.connections() + (await inboundEvents(id)), { timeout: 5000 }).toBeGreaterThan(0);
    expect(hooks.connections()).toBe(0);

    expect(await failure(Promise.reject(updated))).toMatchObject({ code: Code.InvalidArgument, reason: "WEBHOOK_URL_NOT_ALLOWED", field: "settings.webhook_url" });
    const created = await failure(
      accounts.createProviderAccount({ provider: "sandbox", credentials: { api_key: newSandboxApiKey() }, settings: { webhook_url: hooks.url } }),
    );
    expect(created).toMatchObject({ code: Code.InvalidArgument, reason: "WEBHOOK_URL_NOT_ALLOWED", field: "settings.webhook_url" });
    expect(created.message).toContain("ONEROUTER_PROVIDER_BASE_URLS");
  });

  it("sends a stored sandbox webhook_url that is no longer allowed to this server instead", async () => {
    const tenant = await newTestTenant(app, "Stale hooks");
    const stale = await app.accounts.create({
      tenantId: tenant.id,
      environment: "test",
      provider: "sandbox",
      category: "payments",
      displayName: "stale webhook_url",
      credentials: { api_key: newSandboxApiKey() },
      settings: { webhook_url: hooks.url },
      enabled: true,
    });
    await setRoutingProfile(app, tenant.id, "payments", { strategy: RoutingStrategy.PRIORITY, targets: [{ providerAccountId: stale.id }] });
    const { payment } = await apiClient(app, PaymentService, tenant.testSecret).createPayment({ amount: 1500n, currency: "USD" });
    expect(payment).toMatchObject({ status: PaymentStatus.SUCCEEDED, providerAccountId: stale.id });
    await expect.poll(() => inboundEvents(stale.id), { timeout: 5000 }).toBeGreaterThan(0);
    expect(hooks.connections()).toBe(0);
  });

  describe("an account whose allowed base_url leads to a forbidden address", () => {
    it.each(["127.0.0.1", "localhost"])("TestProviderAccount never reaches %s", async (host) => {
      const tenant = await newTestTenant(app, "Tester");
      const baseUrl = listener.url.replace("127.0.0.1", host);
      const { id } = await addTestAccount(app, tenant.id, {
        category: "payments",
        provider: "stripe",
        credentials: { secret_key: "sk_test_x", webhook_secret: "whsec_x" },
        settings: { base_url: baseUrl },
      });
      const tested = await apiClient(app, ProviderAccountService, tenant.testSecret).testProviderAccount({ id });
      expect(tested).toMatchObject({ ok: false, error: { reason: "PROVIDER_ADDRESS_FORBIDDEN", provider: "stripe" } });
      expect(tested.message).toContain("a loopback address");
      expect(listener.connections()).toBe(0);
    });

    it("CreatePayment never reaches it and fails over to the built-in sandbox", async () => {
      const tenant = await newTestTenant(app, "Payer");
      const forbidden = await addTestAccount(app, tenant.id, {
        category: "payments",
        provider: "sandbox",
        credentials: { api_key: newSandboxApiKey() },
        settings: { base_url: listener.url },
      });
      const builtIn = await addTestAccount(app, tenant.id, {
        category: "payments",
        provider: "sandbox",
        credentials: { api_key: newSandboxApiKey() },
        settings: {},
      });
      await setRoutingProfile(app, tenant.id, "payments", {
        strategy: RoutingStrategy.PRIORITY,
        targets: [{ providerAccountId: forbidden.id }, { providerAccountId: builtIn.id }],
      });
      const { payment } = await apiClient(app, PaymentService, tenant.testSecret).createPayment({ amount: 1500n, currency: "USD" });
      expect(payment).toMatchObject({ status: PaymentStatus.SUCCEEDED, providerAccountId: builtIn.id });
      expect(payment!.attempts[0]).toMatchObject({ providerAccountId: forbidden.id, error: { reason: "PROVIDER_ADDRESS_FORBIDDEN" } });
      expect(listener.connections()).toBe(0);
    });

    it("SendMessage never reaches it and fails over to the built-in sandbox", async () => {
      const tenant = await newTestTenant(app, "Sender");
      const forbidden = await addTestAccount(app, tenant.id, {
        category: "messaging",
        provider: "sandbox_sms",
        credentials: { api_key: newSandboxApiKey() },
        settings: { base_url: `http://localhost:${new URL(listener.url).port}` },
      });
      const builtIn = await addTestAccount(app, tenant.id, {
        category: "messaging",
        provider: "sandbox_sms",
        credentials: { api_key: newSandboxApiKey() },
        settings: {},
      });
      await setRoutingProfile(app, tenant.id, "messaging", {
        strategy: RoutingStrategy.PRIORITY,
        targets: [{ providerAccountId: forbidden.id }, { providerAccountId: builtIn.id }],
      });
      const { message } = await apiClient(app, MessagingService, tenant.testSecret).sendMessage({
        content: { case: "sms", value: { to: "+14155550100", body: "hello" } },
      });
      expect(message).toMatchObject({ providerAccountId: builtIn.id });
      expect(message!.attempts[0]).toMatchObject({ providerAccountId: forbidden.id, error: { reason: "PROVIDER_ADDRESS_FORBIDDEN" } });
      expect(listener.connections()).toBe(0);
    });
  });
});

describe("answers from an overridden base_url", () => {
  let app: TestOneRouter;
  let internal: http.Server;
  let internalUrl: string;

  beforeAll(async () => {
    // An operator allowed loopback and the origin; what answers there is still not the provider.
    app = await startTestOneRouter({ env: { ONEROUTER_PROVIDER_ALLOWED_CIDRS: "127.0.0.0/8" } });
    internal = http.createServer((_req, res) => {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "internal-db-password=hunter2", code: "internal-secret-code" } }));
    });
    await new Promise<void>((resolve) => internal.listen(0, "127.0.0.1", resolve));
    internalUrl = `http://127.0.0.1:${(internal.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app?.close();
    await new Promise<void>((resolve) => internal?.close(() => resolve()));
  });

  it("keeps the normalized reason and drops the target's text", async () => {
    const tenant = await newTestTenant(app, "Echo");
    const { id } = await addTestAccount(app, tenant.id, {
      category: "payments",
      provider: "sandbox",
      credentials: { api_key: newSandboxApiKey() },
      settings: { base_url: internalUrl },
    });
    const tested = await apiClient(app, ProviderAccountService, tenant.testSecret).testProviderAccount({ id });
    expect(tested).toMatchObject({ ok: false, error: { reason: "PROVIDER_UNAVAILABLE", provider: "sandbox" } });
    expect(tested.message).toContain("HTTP 500");
    expect(`${tested.message} ${tested.error?.message} ${tested.error?.providerCode}`).not.toMatch(/hunter2|internal-secret-code/);
  });
});
