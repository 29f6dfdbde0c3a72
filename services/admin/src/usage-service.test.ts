import { setTimeout as sleep } from "node:timers/promises";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLogService } from "@onerouter/client/gen/onerouter/admin/v1/audit_logs_pb";
import { ProviderAccountService } from "@onerouter/client/gen/onerouter/admin/v1/provider_accounts_pb";
import { GetUsageRequestSchema, UsageService, type Usage } from "@onerouter/client/gen/onerouter/admin/v1/usage_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { MessagingService } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { PaymentService } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { WebhookService } from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import { newId, type Caller } from "@onerouter/core";
import { failure } from "@onerouter/gatekeeper/testing";
import { apiClient, startTestOneRouter, type TestOneRouter } from "@onerouter/server/testing";
import { adminAs } from "../test";
import { createTenant } from "./tenants";
import { usageService } from "./usage-service";

const used = (usage: Usage | undefined) => Object.fromEntries(usage!.metrics.map((m) => [m.name, [Number(m.used), Number(m.limit)]]));

describe("UsageService", () => {
  let app: TestOneRouter;
  beforeAll(async () => {
    app = await startTestOneRouter();
  });
  afterAll(async () => app?.close());

  async function freeTenant() {
    const tenant = await createTenant(app.db.knex, { name: "Free", planId: "free" });
    await app.ensureSandboxDefaults(tenant.id);
    const owner = { id: newId("mem"), tenant_id: tenant.id, email: `owner-${tenant.id}@example.com`, role: "owner" };
    await app.db.knex("members").insert(owner);
    return { tenantId: tenant.id, ownerId: owner.id, secret: (await app.createKey(Environment.TEST, tenant.id)).secret };
  }

  // The service as a signed-in member reaches it (sign-in itself is
  // SessionService's): the gatekeeper's caller, set directly.
  function asMember(tenantId: string, memberId: string, role: "owner" | "admin") {
    const caller: Caller = {
      tenantId,
      environment: Environment.TEST,
      actor: `member:${memberId}`,
      member: { id: memberId, role, sessionId: "ses_test" },
      scopes: [],
    };
    return adminAs((router) => router.service(UsageService, usageService(app.db.knex))).client(UsageService, caller);
  }

  it("tells the plans and the tenant's own", async () => {
    const { secret } = await freeTenant();
    const usage = apiClient(app, UsageService, secret);
    const { plans } = await usage.listPlans({});
    expect(plans.map((p) => [p.id, Number(p.monthlyApiRequests), p.providerAccounts, p.members])).toEqual([
      ["free", 1000, 2, 1],
      ["pro", 100_000, 10, 5],
      ["enterprise", 0, 0, 0],
    ]);
    expect((await usage.getPlan({})).plan).toMatchObject({ id: "free", name: "Free", webhookEndpoints: 2 });
    expect((await apiClient(app, UsageService, (await app.createKey()).secret).getPlan({})).plan!.id).toBe("enterprise");
  });

  it("lets only an owner change the plan, audited", async () => {
    const { tenantId, ownerId, secret } = await freeTenant();
    expect(await failure(apiClient(app, UsageService, secret).updatePlan({ planId: "pro" }))).toMatchObject({
      code: Code.PermissionDenied,
      reason: "OWNER_REQUIRED",
    });
    expect(await failure(asMember(tenantId, ownerId, "admin").updatePlan({ planId: "pro" }))).toMatchObject({ reason: "OWNER_REQUIRED" });
    expect(await failure(asMember(tenantId, ownerId, "owner").updatePlan({ planId: "platinum" }))).toMatchObject({
      code: Code.InvalidArgument,
      field: "plan_id",
    });

    const { plan } = await asMember(tenantId, ownerId, "owner").updatePlan({ planId: "pro" });
    expect(plan).toMatchObject({ id: "pro", monthlyApiRequests: 100_000n });
    expect((await apiClient(app, UsageService, secret).getPlan({})).plan!.id).toBe("pro");
    const { entries } = await apiClient(app, AuditLogService, secret).listAuditLogEntries({ action: "tenant.plan_update" });
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ actor: `member:${ownerId}`, resourceId: tenantId, metadata: { from_plan_id: "free", plan_id: "pro" } });
  });

  it("shows used and limit per metric for the month asked, and only the caller's tenant's", async () => {
    const { tenantId, secret } = await freeTenant();
    const other = await freeTenant();
    await apiClient(app, WebhookService, secret).createEndpoint({ url: "https://hooks.example.com/in", eventTypes: ["payment.succeeded"] });
    await apiClient(app, PaymentService, secret).createPayment({ amount: 1000n, currency: "USD" });
    await apiClient(app, MessagingService, secret).sendMessage({
      content: { case: "email", value: { from: { email: "shop@example.com" }, to: [{ email: "buyer@example.com" }], subject: "Hi", text: "Hello" } },
    });
    // The payment's one event is delivered (tried) once.
    for (let tries = 0; tries < 100; tries++) {
      if (await app.db.knex("webhook_delivery_attempts").where({ tenant_id: tenantId }).first("id")) break;
      await sleep(100);
    }
    // The gatekeeper writes its counts about every second.
    await sleep(2500);

    const { usage } = await apiClient(app, UsageService, secret).getUsage({});
    const { api_requests: requestsAndLimit, ...others } = used(usage);
    const [requests, requestLimit] = requestsAndLimit!;
    // The three calls above. GetUsage counts itself when admitted, so it is in
    // the total too when the gatekeeper's write falls between its admission
    // and its read of the counts.
    expect([3, 4]).toContain(requests);
    expect(requestLimit).toBe(1000);
    expect(others).toEqual({
      payments: [1, 0],
      messages: [1, 0],
      webhook_deliveries: [1, 0],
      members: [1, 1],
      // The sandbox accounts every test environment starts with are not counted.
      provider_accounts: [0, 2],
      webhook_endpoints: [1, 2],
    });
    const now = new Date();
    expect(usage!.periodStartTime).toEqual(timestampFromDate(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1))));
    expect(usage!.periodEndTime).toEqual(timestampFromDate(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1))));

    const lastYear = await apiClient(app, UsageService, secret).getUsage({ periodTime: timestampFromDate(new Date(Date.UTC(now.getUTCFullYear() - 1, 5, 15))) });
    expect(used(lastYear.usage)).toMatchObject({ api_requests: [0, 1000], payments: [0, 0], messages: [0, 0] });
    // A time past the Timestamp's range (only binary can carry one) is the caller's mistake, named.
    const outOfRange = await fetch(`${app.baseUrl}/onerouter.admin.v1.UsageService/GetUsage`, {
      method: "POST",
      headers: { "content-type": "application/proto", authorization: `Bearer ${secret}` },
      body: toBinary(GetUsageRequestSchema, create(GetUsageRequestSchema, { periodTime: { seconds: 10n ** 15n, nanos: 0 } })),
    });
    expect(outOfRange.status).toBe(400);

    const { api_requests: othersRequests, ...othersUsage } = used((await apiClient(app, UsageService, other.secret).getUsage({})).usage);
    // None of the calls above, at most its own read, as above.
    expect([0, 1]).toContain(othersRequests![0]);
    expect(othersUsage).toMatchObject({ payments: [0, 0], webhook_endpoints: [0, 2] });
  });

  it("refuses a provider account or webhook endpoint past the plan's count with PLAN_LIMIT_REACHED", async () => {
    const { secret } = await freeTenant();
    const accounts = apiClient(app, ProviderAccountService, secret);
    const stripe = () =>
      accounts.createProviderAccount({ provider: "stripe", credentials: { secret_key: "sk_test_x", webhook_secret: "whsec_x" }, enabled: false });
    await stripe();
    await stripe();
    expect(await failure(stripe())).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "PLAN_LIMIT_REACHED",
      metadata: { metric: "provider_accounts", limit: "2", plan_id: "free" },
    });
    // More of the built-in sandbox is never refused.
    await accounts.createProviderAccount({ provider: "sandbox", credentials: { api_key: `sk_sandbox_${"a".repeat(32)}` } });

    const webhooks = apiClient(app, WebhookService, secret);
    await webhooks.createEndpoint({ url: "https://hooks.example.com/a" });
    await webhooks.createEndpoint({ url: "https://hooks.example.com/b" });
    expect(await failure(webhooks.createEndpoint({ url: "https://hooks.example.com/c" }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "PLAN_LIMIT_REACHED",
      metadata: { metric: "webhook_endpoints", limit: "2" },
    });
    // The enterprise default tenant has no such limit.
    const unlimited = apiClient(app, WebhookService, (await app.createKey()).secret);
    for (const name of ["a", "b", "c"]) await unlimited.createEndpoint({ url: `https://hooks.example.com/${name}` });
  });
});
