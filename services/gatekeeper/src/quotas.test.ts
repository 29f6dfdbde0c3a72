import { fromBinary } from "@bufbuild/protobuf";
import { setTimeout as sleep } from "node:timers/promises";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { billingPeriod, createTenant, setTenantPlan } from "@onerouter/admin";
import { ApiKeyService } from "@onerouter/client/gen/onerouter/admin/v1/api_keys_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { EventSchema } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { MessagingService } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { newId, type Knex } from "@onerouter/core";
import { createTestDatabaseUrl } from "@onerouter/core/testing";
import { apiClient, startTestOneRouter, type TestOneRouter } from "@onerouter/server/testing";
import { failure } from "../test/index";

// A tenant on the free plan (1,000 API requests a month) with two owners
// and a developer, its test environment's sandbox providers, and `keys` API
// keys (the plan's rate is per key, so a wave of concurrent calls uses many).
async function freeTenant(app: TestOneRouter, keys: number) {
  const tenant = await createTenant(app.db.knex, { name: "Free tenant", planId: "free" });
  await app.ensureSandboxDefaults(tenant.id);
  const people = [
    { email: "ada@example.com", role: "owner" },
    { email: "grace@example.com", role: "owner" },
    { email: "dev@example.com", role: "developer" },
  ];
  for (const person of people) await app.db.knex("members").insert({ id: newId("mem"), tenant_id: tenant.id, ...person });
  const secrets = [];
  for (let i = 0; i < keys; i++) secrets.push((await app.createKey(Environment.TEST, tenant.id)).secret);
  return { tenantId: tenant.id, secrets };
}

// This month's api_requests as another process would have left them.
async function addToCount(knex: Knex, tenantId: string, amount: number) {
  await knex("usage_counters")
    .insert({ tenant_id: tenantId, period_start: billingPeriod(new Date()).start, metric: "api_requests", count: amount })
    .onConflict(["tenant_id", "period_start", "metric"])
    .merge({ count: knex.raw("usage_counters.count + excluded.count") });
}

async function storedCount(knex: Knex, tenantId: string): Promise<number> {
  const row = (await knex("usage_counters").where({ tenant_id: tenantId, metric: "api_requests" }).first("count")) as { count: string } | undefined;
  return Number(row?.count ?? 0);
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function noticeEvents(knex: Knex, tenantId: string) {
  const rows = (await knex("outbox_events").where({ tenant_id: tenantId, type: "usage.threshold_reached" }).select("payload")) as {
    payload: Uint8Array;
  }[];
  return rows.map((row) => {
    const event = fromBinary(EventSchema, row.payload);
    const usage = event.data.case === "usage" ? event.data.value : undefined;
    return { environment: event.environment, metric: usage?.metric, threshold: usage?.thresholdPercent, limit: usage?.limit, planId: usage?.planId };
  });
}

// The notice emails the tenant's test environment sent, as "to: subject".
async function noticeEmails(app: TestOneRouter, secret: string): Promise<string[]> {
  const { messages } = await apiClient(app, MessagingService, secret).listMessages({ pageSize: 100 });
  return messages
    .filter((m) => m.metadata.onerouter === "notification")
    .map((m) => (m.content.case === "email" ? `${m.content.value.to[0]!.email}: ${m.content.value.subject}` : ""))
    .sort();
}

const expectedEmails = [
  "ada@example.com: OneRouter: 80% of your monthly api requests used",
  "ada@example.com: OneRouter: your monthly api requests are used up",
  "grace@example.com: OneRouter: 80% of your monthly api requests used",
  "grace@example.com: OneRouter: your monthly api requests are used up",
];

const listKeys = (app: TestOneRouter, secret: string) => apiClient(app, ApiKeyService, secret).listApiKeys({});

describe("monthly quotas", () => {
  let app: TestOneRouter;
  beforeAll(async () => {
    app = await startTestOneRouter();
  });
  afterAll(async () => app?.close());

  it("refuses the call past the quota with QUOTA_EXCEEDED, and gives the 80 % and 100 % notices once each under 50 concurrent calls", async () => {
    const { tenantId, secrets } = await freeTenant(app, 50);
    await addToCount(app.db.knex, tenantId, 790);

    // 50 calls at once cross 800 (80 %).
    const first = await Promise.allSettled(secrets.map((secret) => listKeys(app, secret)));
    expect(first.filter((r) => r.status === "fulfilled")).toHaveLength(50);
    await until("the 80 % notice", async () => ((await noticeEvents(app.db.knex, tenantId)).length === 2 ? true : undefined));

    // Other processes bring the month to 980; this one learns it on its next flush.
    await addToCount(app.db.knex, tenantId, 140);
    await until("the count of 980", async () => ((await storedCount(app.db.knex, tenantId)) === 980 ? true : undefined));
    await sleep(2500);

    // 50 calls at once at 980: exactly 20 fit before 1,000.
    const second = await Promise.all(secrets.map((secret) => listKeys(app, secret).then(() => undefined, (e: unknown) => e)));
    expect(second.filter((e) => e === undefined)).toHaveLength(20);
    const refused = await failure(listKeys(app, secrets[0]!));
    const nextMonth = billingPeriod(new Date()).end.toISOString();
    expect(refused).toMatchObject({
      code: Code.ResourceExhausted,
      reason: "QUOTA_EXCEEDED",
      metadata: { metric: "api_requests", limit: "1000", used: "1000", plan_id: "free", period_end: nextMonth },
    });

    // Over plain HTTP the refusal says when to come back.
    const res = await fetch(`${app.baseUrl}/${ApiKeyService.typeName}/ListApiKeys`, {
      method: "POST",
      headers: { authorization: `Bearer ${secrets[1]}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(429);
    const untilNextMonth = (Date.parse(nextMonth) - Date.now()) / 1000;
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(untilNextMonth - 60);
    expect(res.headers.get("ratelimit-limit")).toBe("1000");
    expect(res.headers.get("ratelimit-remaining")).toBe("0");

    await until("the 100 % notice", async () => ((await noticeEvents(app.db.knex, tenantId)).length === 4 ? true : undefined));
    // A few more flushes give nothing more.
    await sleep(2500);
    const events = await noticeEvents(app.db.knex, tenantId);
    expect(events.map((e) => `${e.threshold} ${Environment[e.environment]}`).sort()).toEqual(["100 LIVE", "100 TEST", "80 LIVE", "80 TEST"]);
    expect(events.every((e) => e.metric === "api_requests" && e.limit === 1000n && e.planId === "free")).toBe(true);

    // An upgrade lifts the refusal at once; the owners' emails are in the sandbox, once each.
    await setTenantPlan(app.db.knex, { tenantId, actor: "test", environment: Environment.LIVE }, "pro");
    expect(await until("the notice emails", async () => {
      const emails = await noticeEmails(app, secrets[2]!);
      return emails.length >= 4 ? emails : undefined;
    })).toEqual(expectedEmails);
  });
});

describe("monthly quotas across processes", () => {
  let first: TestOneRouter;
  let second: TestOneRouter;
  beforeAll(async () => {
    // Two servers on one Postgres, as replicas in the mesh.
    const env = { DATABASE_URL: await createTestDatabaseUrl(), ONEROUTER_MASTER_KEY: Buffer.alloc(32, 7).toString("base64") };
    first = await startTestOneRouter({ env });
    second = await startTestOneRouter({ env });
  });
  afterAll(async () => {
    await first?.close();
    await second?.close();
  });

  it("loses no count and gives each notice once, whichever process crosses the threshold", async () => {
    const { tenantId, secrets } = await freeTenant(first, 50);
    await addToCount(first.db.knex, tenantId, 790);
    const results = await Promise.allSettled(secrets.map((secret, i) => listKeys(i % 2 ? first : second, secret)));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(50);
    await until("both processes' counts", async () => ((await storedCount(first.db.knex, tenantId)) === 840 ? true : undefined));
    await until("the 80 % notice", async () => ((await noticeEvents(first.db.knex, tenantId)).length === 2 ? true : undefined));
    await sleep(2500);
    expect((await noticeEvents(first.db.knex, tenantId)).map((e) => e.threshold)).toEqual([80, 80]);
    const emails = await until("the notice emails", async () => {
      const sent = await noticeEmails(first, secrets[0]!);
      return sent.length >= 2 ? sent : undefined;
    });
    expect(emails).toEqual([expectedEmails[0], expectedEmails[2]]);
  });
});
