import { randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { AuditLogService } from "@onerouter/client/gen/onerouter/admin/v1/audit_logs_pb";
import { CircuitState, ProviderAccountService } from "@onerouter/client/gen/onerouter/admin/v1/provider_accounts_pb";
import { RoutingService, RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { Category, Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { describeEachEngine } from "@onerouter/core/testing";
import { startSandboxProvider } from "@onerouter/sandbox";
import type { RunningEmulator } from "@onerouter/sandbox";
import { failure } from "@onerouter/gatekeeper/testing";
import { apiClient, startTestOneRouter, type TestOneRouter } from "@onerouter/server/testing";
import { createTenant } from "./tenants";

// Each distinct well-formed key is its own sandbox account.
const sandboxKey = () => `sk_sandbox_${randomBytes(16).toString("hex")}`;

describeEachEngine("ProviderAccountService", (engine) => {
  let app: TestOneRouter;
  let sandbox: RunningEmulator;
  let secret: string;

  beforeAll(async () => {
    app = await startTestOneRouter({ engine });
    sandbox = await startSandboxProvider();
    // Accounts here point at a sandbox the test runs, as an operator would allow.
    app.providerOutbound.allowBaseUrls(sandbox.url);
    secret = (await app.createKey()).secret;
  });
  afterAll(async () => {
    await app?.close();
    await sandbox?.close();
  });

  const accountsFor = (key: string) => apiClient(app, ProviderAccountService, key);
  const routingFor = (key: string) => apiClient(app, RoutingService, key);

  // The response exactly as it crossed the wire.
  async function rawResponse(method: string, body: object): Promise<string> {
    const res = await fetch(`${app.baseUrl}/${ProviderAccountService.typeName}/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    return res.text();
  }

  async function createSandboxAccount(apiKey = sandboxKey(), key = secret) {
    const { providerAccount } = await accountsFor(key).createProviderAccount({
      provider: "sandbox",
      credentials: { api_key: apiKey },
      settings: { base_url: sandbox.url },
    });
    return providerAccount!;
  }

  it("creates an account and never returns or stores its credentials in the clear", async () => {
    const apiKey = sandboxKey();
    const account = await createSandboxAccount(apiKey);
    expect(account).toMatchObject({
      provider: "sandbox",
      category: Category.PAYMENTS,
      environment: Environment.TEST,
      displayName: "sandbox",
      enabled: true,
      settings: { base_url: sandbox.url },
      circuitState: CircuitState.CLOSED,
      webhookUrl: `${app.publicUrl()}/webhooks/inbound/sandbox/${account.id}`,
    });
    expect(account.credentialHints).toEqual({ api_key: `${apiKey.slice(0, 8)}…${apiKey.slice(-4)}` });
    expect(account.createTime).toBeDefined();

    const secretPart = apiKey.slice(11);
    for (const [method, body] of [
      ["GetProviderAccount", { id: account.id }],
      ["ListProviderAccounts", {}],
      ["UpdateProviderAccount", { id: account.id, displayName: "renamed", updateMask: "displayName" }],
    ] as const) {
      const raw = await rawResponse(method, body);
      expect(raw).toContain(account.id);
      expect(raw, method).not.toContain(secretPart);
    }

    const row = await app.db.knex("provider_accounts").where({ id: account.id }).first();
    expect(JSON.stringify(row)).not.toContain(secretPart);
    expect(row.credentials_sealed).toMatch(/^v1\./);
    const audit = await app.db.knex("audit_log_entries").where({ resource_id: account.id });
    expect(audit.map((e: { action: string }) => e.action).sort()).toEqual(["provider_account.create", "provider_account.update"]);
    expect(JSON.stringify(audit)).not.toContain(secretPart);
  });

  it("honours enabled and a display name on create", async () => {
    const { providerAccount } = await accountsFor(secret).createProviderAccount({
      provider: "sandbox",
      displayName: "  Backup sandbox  ",
      credentials: { api_key: sandboxKey() },
      enabled: false,
    });
    expect(providerAccount).toMatchObject({ displayName: "Backup sandbox", enabled: false, settings: {} });
  });

  it("lists the caller's accounts by page, filtered by category and provider", async () => {
    const tenant = await createTenant(app.db.knex, { name: "Lister", planId: "enterprise" });
    const key = (await app.createKey(Environment.TEST, tenant.id)).secret;
    const created = [];
    for (let i = 0; i < 3; i++) created.push(await createSandboxAccount(sandboxKey(), key));
    const client = accountsFor(key);

    const first = await client.listProviderAccounts({ pageSize: 2 });
    expect(first.providerAccounts).toHaveLength(2);
    expect(first.nextPageToken).not.toBe("");
    const second = await client.listProviderAccounts({ pageSize: 2, pageToken: first.nextPageToken });
    expect(second.nextPageToken).toBe("");
    // Newest first, each exactly once.
    expect([...first.providerAccounts, ...second.providerAccounts].map((a) => a.id)).toEqual(
      created.map((a) => a.id).reverse(),
    );
    expect(first.providerAccounts.every((a) => Object.keys(a.credentialHints).length === 1)).toBe(true);

    expect((await client.listProviderAccounts({ category: Category.PAYMENTS })).providerAccounts).toHaveLength(3);
    expect((await client.listProviderAccounts({ category: Category.MESSAGING })).providerAccounts).toHaveLength(0);
    expect((await client.listProviderAccounts({ provider: "sandbox" })).providerAccounts).toHaveLength(3);
    expect((await client.listProviderAccounts({ provider: "stripe" })).providerAccounts).toHaveLength(0);
    expect(await failure(client.listProviderAccounts({ pageToken: "nonsense" }))).toMatchObject({
      code: Code.InvalidArgument,
      field: "page_token",
    });
  });

  it("updates only the fields named in the mask", async () => {
    const client = accountsFor(secret);
    const account = await createSandboxAccount();

    const renamed = await client.updateProviderAccount({
      id: account.id,
      displayName: "Primary",
      enabled: false,
      settings: { ignored: "yes" },
      updateMask: { paths: ["display_name"] },
    });
    expect(renamed.providerAccount).toMatchObject({
      displayName: "Primary",
      enabled: true,
      settings: { base_url: sandbox.url },
      credentialHints: account.credentialHints,
    });

    const newKey = sandboxKey();
    const rotated = await client.updateProviderAccount({
      id: account.id,
      credentials: { api_key: newKey },
      enabled: false,
      updateMask: { paths: ["credentials", "enabled"] },
    });
    expect(rotated.providerAccount).toMatchObject({
      displayName: "Primary",
      enabled: false,
      credentialHints: { api_key: `${newKey.slice(0, 8)}…${newKey.slice(-4)}` },
    });
    const row = await app.db.knex("provider_accounts").where({ id: account.id }).first();
    expect(JSON.stringify(row)).not.toContain(newKey.slice(11));
    // The new credentials are the ones in use.
    expect((await client.testProviderAccount({ id: account.id })).ok).toBe(true);

    const resettled = await client.updateProviderAccount({
      id: account.id,
      settings: { base_url: sandbox.url, simulate_outage: "true" },
      updateMask: { paths: ["settings"] },
    });
    expect(resettled.providerAccount?.settings).toEqual({ base_url: sandbox.url, simulate_outage: "true" });

    expect(await failure(client.updateProviderAccount({ id: account.id, displayName: "x" }))).toMatchObject({
      code: Code.InvalidArgument,
      field: "update_mask",
    });
    expect(
      await failure(client.updateProviderAccount({ id: account.id, updateMask: { paths: ["provider"] } })),
    ).toMatchObject({ code: Code.InvalidArgument, field: "update_mask" });
    expect(
      await failure(client.updateProviderAccount({ id: account.id, credentials: {}, updateMask: { paths: ["credentials"] } })),
    ).toMatchObject({ code: Code.InvalidArgument, field: "credentials.api_key" });
    expect(
      await failure(client.updateProviderAccount({ id: "pa_missing", updateMask: { paths: ["enabled"] } })),
    ).toMatchObject({ code: Code.NotFound, reason: "RESOURCE_NOT_FOUND" });
  });

  it("tests credentials against the provider and reports refusals as answers", async () => {
    const client = accountsFor(secret);
    const good = await createSandboxAccount();
    const ok = await client.testProviderAccount({ id: good.id });
    expect(ok).toMatchObject({ ok: true });
    expect(ok.error).toBeUndefined();
    expect(ok.latency).toBeDefined();

    const wrongKey = await createSandboxAccount("sk_wrong_key");
    const refused = await client.testProviderAccount({ id: wrongKey.id });
    expect(refused.ok).toBe(false);
    expect(refused.error).toMatchObject({ reason: "PROVIDER_AUTHENTICATION_FAILED", provider: "sandbox" });
    expect(refused.message).not.toBe("");

    const stopped = await startSandboxProvider();
    await stopped.close();
    app.providerOutbound.allowBaseUrls(stopped.url);
    const { providerAccount: unreachable } = await client.createProviderAccount({
      provider: "sandbox",
      credentials: { api_key: sandboxKey() },
      settings: { base_url: stopped.url },
    });
    const down = await client.testProviderAccount({ id: unreachable!.id });
    expect(down).toMatchObject({ ok: false, error: { reason: "PROVIDER_UNAVAILABLE", provider: "sandbox" } });
  });

  it("refuses to delete an account the routing profile uses, then deletes it", async () => {
    const client = accountsFor(secret);
    const used = await createSandboxAccount();
    const other = await createSandboxAccount();
    const routing = routingFor(secret);
    await routing.updateRoutingProfile({
      routingProfile: {
        category: Category.PAYMENTS,
        strategy: RoutingStrategy.PRIORITY,
        targets: [{ providerAccountId: other.id }],
        rules: [
          {
            name: "euro",
            condition: { currencies: ["EUR"] },
            strategy: RoutingStrategy.PRIORITY,
            targets: [{ providerAccountId: used.id }],
          },
        ],
      },
    });
    expect(await failure(client.deleteProviderAccount({ id: used.id }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "PROVIDER_ACCOUNT_IN_USE",
    });
    expect(await failure(client.deleteProviderAccount({ id: other.id }))).toMatchObject({
      reason: "PROVIDER_ACCOUNT_IN_USE",
    });

    await routing.updateRoutingProfile({
      routingProfile: {
        category: Category.PAYMENTS,
        strategy: RoutingStrategy.PRIORITY,
        targets: [{ providerAccountId: other.id }],
      },
    });
    await client.deleteProviderAccount({ id: used.id });
    expect(await failure(client.getProviderAccount({ id: used.id }))).toMatchObject({ code: Code.NotFound });
    expect(await failure(client.deleteProviderAccount({ id: used.id }))).toMatchObject({ code: Code.NotFound });

    const audit = await apiClient(app, AuditLogService, secret).listAuditLogEntries({
      action: "provider_account.delete",
    });
    expect(audit.entries.map((e) => e.resourceId)).toContain(used.id);
  });

  it("hides one tenant's and one environment's accounts from the others", async () => {
    const account = await createSandboxAccount();
    const tenant = await createTenant(app.db.knex, { name: "Other", planId: "enterprise" });
    const otherTenant = accountsFor((await app.createKey(Environment.TEST, tenant.id)).secret);
    const live = accountsFor((await app.createKey(Environment.LIVE)).secret);

    for (const client of [otherTenant, live]) {
      for (const call of [
        () => client.getProviderAccount({ id: account.id }),
        () => client.testProviderAccount({ id: account.id }),
        () => client.deleteProviderAccount({ id: account.id }),
        () => client.updateProviderAccount({ id: account.id, displayName: "mine", updateMask: { paths: ["display_name"] } }),
      ]) {
        expect(await failure(call())).toMatchObject({ code: Code.NotFound, reason: "RESOURCE_NOT_FOUND" });
      }
      expect((await client.listProviderAccounts({})).providerAccounts.map((a) => a.id)).not.toContain(account.id);
    }

    const liveAccount = (await live.createProviderAccount({ provider: "sandbox", credentials: { api_key: sandboxKey() } }))
      .providerAccount!;
    expect(liveAccount.environment).toBe(Environment.LIVE);
    expect(await failure(accountsFor(secret).getProviderAccount({ id: liveAccount.id }))).toMatchObject({
      code: Code.NotFound,
    });
    // Untouched by the attempts above.
    expect((await accountsFor(secret).getProviderAccount({ id: account.id })).providerAccount?.displayName).toBe("sandbox");
  });

  it("names the bad field", async () => {
    const client = accountsFor(secret);
    const unknown = await failure(client.createProviderAccount({ provider: "acme", credentials: { api_key: "x" } }));
    expect(unknown).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_FIELD", field: "provider" });
    expect(unknown.message).toContain("sandbox");
    expect(await failure(client.createProviderAccount({ provider: "sandbox" }))).toMatchObject({
      code: Code.InvalidArgument,
      field: "credentials.api_key",
    });
    expect(
      await failure(client.createProviderAccount({ provider: "sandbox", credentials: { api_key: "   " } })),
    ).toMatchObject({ field: "credentials.api_key" });
    expect(
      await failure(
        client.createProviderAccount({ provider: "sandbox", credentials: { api_key: sandboxKey(), secret_key: "sk" } }),
      ),
    ).toMatchObject({ code: Code.InvalidArgument, field: "credentials.secret_key" });
    expect(
      await failure(
        client.createProviderAccount({ provider: "sandbox", credentials: { api_key: sandboxKey() }, settings: { "Base URL": "x" } }),
      ),
    ).toMatchObject({ field: "settings.Base URL" });
    expect(
      await failure(
        client.createProviderAccount({ provider: "sandbox", credentials: { api_key: sandboxKey() }, displayName: "x".repeat(101) }),
      ),
    ).toMatchObject({ field: "display_name" });
    expect(await failure(client.getProviderAccount({ id: "" }))).toMatchObject({ field: "id" });
    expect(await failure(client.listProviderAccounts({ category: 9 as Category }))).toMatchObject({ field: "category" });
  });
});
