import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { createApiKey, createTenant, setTenantPlan, setTenantSuspended } from "@onerouter/admin";
import { ApiKeyService } from "@onerouter/client/gen/onerouter/admin/v1/api_keys_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { MessagingService } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { PaymentService, PaymentStatus } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { WebhookService } from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import { failure } from "@onerouter/gatekeeper/testing";
import { apiClient, startTestOneRouter, traceRequestSql, type TestOneRouter } from "../test/index";

// Two servers on one Postgres, as two processes of the product: B keeps API
// keys in memory, yet refuses a key as soon as the change notice of A (or any
// tool) revoking it or suspending its tenant reaches B, milliseconds after the
// commit, and applies a new plan as soon too. The waits below are bounded by
// three seconds, far beyond a notice's delivery, while the cache keeps a key
// for good without one. On B, a CreatePayment stays within its
// budget of round trips and transactions.
describe("the hot path on two servers sharing Postgres", () => {
  let a: TestOneRouter;
  let b: TestOneRouter;
  // Answers the sandbox's webhooks, so that no other call into B overlaps a traced one.
  let webhookSink: http.Server;
  const operator = { actor: "test", environment: Environment.LIVE };
  const sinkUrl = () => `http://127.0.0.1:${(webhookSink.address() as AddressInfo).port}`;

  beforeAll(async () => {
    webhookSink = http.createServer((req, res) => req.resume().on("end", () => res.end()));
    await new Promise<void>((resolve) => webhookSink.listen(0, "127.0.0.1", resolve));
    a = await startTestOneRouter({ engine: "postgres" });
    b = await startTestOneRouter({
      env: {
        DATABASE_URL: a.config.databaseUrl!,
        ONEROUTER_MASTER_KEY: a.config.masterKey!.toString("base64"),
        ONEROUTER_PROVIDER_BASE_URLS: sinkUrl(),
      },
    });
  }, 120_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
    webhookSink?.close();
  });

  // A key of its own tenant, known to B's cache: B has served it once.
  async function cachedOnB(planId = "enterprise") {
    const tenant = await createTenant(a.db.knex, { name: "Cached", planId });
    const key = await createApiKey(a.db.knex, { tenantId: tenant.id, environment: Environment.TEST, name: "k", createdBy: "test" });
    const onB = apiClient(b, ApiKeyService, key.secret);
    await onB.listApiKeys({});
    const lookups = await traceRequestSql(b.db.knex, async () => (await onB.listApiKeys({}), 0));
    expect([...lookups.byKind.keys()].filter((kind) => kind.includes("api_keys"))).toEqual(["select api_keys"]);
    return { tenant, key, onB };
  }

  // The outcome of B's calls, asked again until it is what the notice should make it.
  const noticed = { timeout: 3_000, interval: 5 };
  const outcome = (call: () => Promise<unknown>) => () =>
    call().then(
      () => "served",
      (e: unknown) => failure(Promise.reject(e)).then(({ code, reason }) => ({ code, reason })),
    );

  it("refuses on B a key revoked through A once the notice arrives", async () => {
    const { tenant, key, onB } = await cachedOnB();
    const admin = await createApiKey(a.db.knex, { tenantId: tenant.id, environment: Environment.TEST, name: "admin", createdBy: "test" });
    await apiClient(a, ApiKeyService, admin.secret).revokeApiKey({ id: key.row.id });
    await expect.poll(outcome(() => onB.listApiKeys({})), noticed).toEqual({ code: Code.Unauthenticated, reason: "API_KEY_REVOKED" });
  });

  it("refuses on B a tenant suspended elsewhere once the notice arrives, and lets it in once resumed", async () => {
    const { tenant, onB } = await cachedOnB();
    await setTenantSuspended(a.db.knex, { ...operator, tenantId: tenant.id }, true);
    await expect.poll(outcome(() => onB.listApiKeys({})), noticed).toEqual({ code: Code.PermissionDenied, reason: "TENANT_SUSPENDED" });
    await setTenantSuspended(a.db.knex, { ...operator, tenantId: tenant.id }, false);
    await expect.poll(outcome(() => onB.listApiKeys({})), noticed).toBe("served");
  });

  it("applies on B a plan changed elsewhere once the notice arrives", async () => {
    const { key } = await cachedOnB("pro");
    const webhooks = apiClient(b, WebhookService, key.secret);
    for (let i = 0; i < 2; i++) await webhooks.createEndpoint({ url: `https://hooks.example.com/${i}`, eventTypes: ["payment.succeeded"] });
    await setTenantPlan(a.db.knex, { ...operator, tenantId: key.row.tenant_id }, "free");
    let n = 2;
    const create = () => webhooks.createEndpoint({ url: `https://hooks.example.com/${n++}`, eventTypes: ["payment.succeeded"] });
    await expect.poll(outcome(create), noticed).toEqual({ code: Code.FailedPrecondition, reason: "PLAN_LIMIT_REACHED" });
  });

  it("creates a payment in at most 2 transactions and 8 round trips", async () => {
    const scope = { tenantId: b.defaultTenantId, environment: "test", category: "payments" } as const;
    const [account] = await b.accounts.listWithCredentials(scope);
    const sink = sinkUrl();
    await b.accounts.update(scope, account!.id, { settings: { ...account!.settings, webhook_url: sink } });
    await expect.poll(async () => (await b.accounts.listWithCredentials(scope))[0]?.settings.webhook_url).toBe(sink);
    const key = await b.createKey();
    const payments = apiClient(b, PaymentService, key.secret);
    const pay = async (n: number) => {
      const started = performance.now();
      const { payment } = await payments.createPayment({ amount: 1000n + BigInt(n), currency: "USD" }, { headers: { "Idempotency-Key": `hot-path-${n}` } });
      expect(payment?.status).toBe(PaymentStatus.SUCCEEDED);
      return performance.now() - started;
    };
    // The first call fills the caches (key, accounts, routing profile).
    await pay(0);
    const trace = await traceRequestSql(b.db.knex, () => pay(1));
    const budget = `${trace.statements} round trips in ${trace.transactions} transactions: ${JSON.stringify([...trace.byKind])}`;
    expect(trace.statements, budget).toBeLessThanOrEqual(8);
    expect(trace.transactions, budget).toBeLessThanOrEqual(2);
  });

  // All of a tenant's concurrent payments and messages would otherwise lock
  // its one row (core's dropTenantForeignKeys says why they do not).
  it("creates a payment and sends a message while their tenant's row is locked", async () => {
    const key = await b.createKey();
    const payments = apiClient(b, PaymentService, key.secret);
    const messaging = apiClient(b, MessagingService, key.secret);
    await a.db.knex.transaction(async (trx) => {
      await trx("tenants").where({ id: b.defaultTenantId }).forUpdate().first("id");
      const { payment } = await payments.createPayment({ amount: 1000n, currency: "USD" }, { headers: { "Idempotency-Key": "tenant-row-locked" }, timeoutMs: 5000 });
      expect(payment?.status).toBe(PaymentStatus.SUCCEEDED);
      const { message } = await messaging.sendMessage({ content: { case: "sms", value: { to: "+14155550100", body: "Your code is 1234" } } }, { timeoutMs: 5000 });
      expect(message?.id).toMatch(/^msg_/);
    });
  });
});
