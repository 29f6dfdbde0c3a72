import { durationMs, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, expect, it } from "vitest";
import { AnalyticsService, Granularity, Metric, Report } from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";
import { Category, Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { latencyBucketCount, latencyBucketOf, newId, rollupStripeSql, type Database, type Knex } from "@onerouter/core";
import { createTestDatabase, describeEachEngine } from "@onerouter/core/testing";
import { failure, inMemoryApi } from "@onerouter/gatekeeper/testing";
import { allMigrations } from "@onerouter/server";
import { createApiKey } from "../api-keys";
import { createTenant } from "../tenants";
import { analyticsService } from "./analytics-service";

// AnalyticsService over a dataset written the way the rooms write it
// (payments and messages created, attempts started and settled, statuses
// moving, deliveries retried), with every answer computed here in plain
// JavaScript from the rows as seeded, never by the service's SQL.

const hourMs = 3600_000;
const day0 = Date.UTC(2026, 10, 1);
// Starts mid-hour: the service counts whole hours, from the one the range starts in.
const range = { startTime: timestampFromDate(new Date(day0 + 5.5 * hourMs)), endTime: timestampFromDate(new Date(day0 + 2 * 24 * hourMs)) };
const inRange = (at: Date) => Math.floor(at.getTime() / hourMs) * hourMs >= day0 + 5 * hourMs && at.getTime() < day0 + 48 * hourMs;

const accounts = [
  { id: "pa_sandbox", provider: "sandbox" },
  { id: "pa_stripe", provider: "stripe" },
  { id: "pa_razorpay", provider: "razorpay" },
];
const messagingAccounts = [
  { id: "pa_twilio", provider: "twilio" },
  { id: "pa_vonage", provider: "vonage" },
];
const currencies = ["USD", "EUR", "JPY"];
const exponents: Record<string, number> = { USD: 2, EUR: 2, JPY: 0 };
const errors = [
  { reason: "PROVIDER_UNAVAILABLE", providerCode: "503" },
  { reason: "PROVIDER_DECLINED", providerCode: "card_declined" },
  { reason: "PROVIDER_DECLINED", providerCode: "insufficient_funds" },
  { reason: "PROVIDER_TIMEOUT", providerCode: "" },
];

// A deterministic stream of numbers in [0, 1).
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface SeededAttempt {
  id: string;
  accountId: string;
  provider: string;
  status: string;
  latencyMs: number;
  error?: { reason: string; providerCode: string };
  createdAt: Date;
}

interface SeededPayment {
  id: string;
  tenantId: string;
  environment: "test" | "live";
  amount: bigint;
  currency: string;
  status: string;
  provider: string;
  accountId: string;
  apiKeyId: string;
  fee: bigint;
  highest: bigint;
  fallback: bigint;
  description: string;
  createdAt: Date;
  attempts: SeededAttempt[];
}

interface SeededMessage {
  id: string;
  tenantId: string;
  environment: "test" | "live";
  status: string;
  provider: string;
  accountId: string;
  priceMicros: bigint;
  priceCurrency: string;
  highest: bigint;
  fallback: bigint;
  createdAt: Date;
  attempts: SeededAttempt[];
}

const paymentSuccesses = ["succeeded", "requires_capture", "requires_action"];
const messageSuccesses = ["sent", "delivered", "undelivered"];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

// Attempts of one payment or message: failures that failed over, then the last one.
function attemptsFor(random: () => number, createdAt: Date, pool: typeof accounts, last: string): SeededAttempt[] {
  const count = 1 + Math.floor(random() * 3);
  const attempts: SeededAttempt[] = [];
  for (let i = 0; i < count; i++) {
    const account = pool[(Math.floor(random() * pool.length) + i) % pool.length]!;
    const isLast = i === count - 1;
    const status = isLast ? last : "failed";
    attempts.push({
      id: newId("att"),
      accountId: account.id,
      provider: account.provider,
      status,
      latencyMs: Math.floor(random() ** 2 * 3000),
      ...((!isLast || status === "declined" || status === "failed" || status === "undelivered") && { error: pick(random, errors) }),
      createdAt: new Date(createdAt.getTime() + i * 1000),
    });
  }
  return attempts;
}

async function seedPayment(knex: Knex, p: SeededPayment) {
  // Created processing, moved by each attempt and settled, as the engine does.
  await knex("payments").insert({
    id: p.id,
    tenant_id: p.tenantId,
    environment: p.environment,
    amount: p.amount.toString(),
    currency: p.currency,
    capture_method: "automatic",
    status: "processing",
    description: p.description,
    api_key_id: p.apiKeyId,
    created_at: p.createdAt,
    updated_at: p.createdAt,
  });
  for (const a of p.attempts) {
    await knex("payment_attempts").insert({
      id: a.id,
      payment_id: p.id,
      tenant_id: p.tenantId,
      environment: p.environment,
      provider: a.provider,
      provider_account_id: a.accountId,
      status: "pending",
      created_at: a.createdAt,
      updated_at: a.createdAt,
    });
    await knex("payments").where({ id: p.id }).update({ provider: a.provider, provider_account_id: a.accountId, fee: "7", highest_eligible_fee: "9", default_provider_fee: "8" });
    await knex("payment_attempts")
      .where({ id: a.id })
      .update({ status: a.status, latency_ms: a.latencyMs, error: a.error ? JSON.stringify(a.error) : null });
  }
  await knex("payments").where({ id: p.id }).update({
    status: p.status,
    provider: p.provider,
    provider_account_id: p.accountId,
    fee: p.fee.toString(),
    highest_eligible_fee: p.highest.toString(),
    default_provider_fee: p.fallback.toString(),
  });
}

async function seedMessage(knex: Knex, m: SeededMessage) {
  await knex("messages").insert({
    id: m.id,
    tenant_id: m.tenantId,
    environment: m.environment,
    channel: "sms",
    status: "queued",
    content: JSON.stringify({ to: "+15550100", body: "hi" }),
    created_at: m.createdAt,
    updated_at: m.createdAt,
  });
  for (const a of m.attempts) {
    await knex("message_attempts").insert({
      id: a.id,
      message_id: m.id,
      tenant_id: m.tenantId,
      environment: m.environment,
      provider: a.provider,
      provider_account_id: a.accountId,
      status: "pending",
      created_at: a.createdAt,
      updated_at: a.createdAt,
    });
    await knex("message_attempts")
      .where({ id: a.id })
      .update({ status: a.status, latency_ms: a.latencyMs, error: a.error ? JSON.stringify(a.error) : null });
  }
  await knex("messages").where({ id: m.id }).update({
    status: m.status,
    provider: m.provider,
    provider_account_id: m.accountId,
    price_micros: m.priceMicros.toString(),
    price_currency: m.priceCurrency,
    highest_eligible_price_micros: m.highest.toString(),
    default_provider_price_micros: m.fallback.toString(),
  });
}

function generate(random: () => number, tenantId: string, environment: "test" | "live", apiKeyIds: string[], count: number) {
  const payments: SeededPayment[] = [];
  const messages: SeededMessage[] = [];
  for (let i = 0; i < count; i++) {
    const createdAt = new Date(day0 + Math.floor(random() * 3 * 24 * 60) * 60_000 + Math.floor(random() * 59_000));
    const status = pick(random, ["succeeded", "succeeded", "succeeded", "failed", "requires_capture", "canceled", "processing"]);
    const last = { succeeded: "succeeded", failed: "declined", requires_capture: "requires_capture", canceled: "requires_capture", processing: "unknown" }[status]!;
    const attempts = attemptsFor(random, createdAt, accounts, last);
    const serving = attempts[attempts.length - 1]!;
    const fee = BigInt(Math.floor(random() * 500));
    payments.push({
      id: newId("pay"),
      tenantId,
      environment,
      amount: BigInt(100 + Math.floor(random() * 100_000)),
      currency: pick(random, currencies),
      status,
      provider: serving.provider,
      accountId: serving.accountId,
      apiKeyId: pick(random, apiKeyIds),
      fee,
      highest: fee + BigInt(Math.floor(random() * 300)),
      fallback: fee + BigInt(Math.floor(random() * 200)) - 50n,
      description: pick(random, ["order 1", "=SUM(A1:A9)", "+1 555", "-x", "@cmd", "\tlead", 'quote " and, comma\nline']),
      createdAt,
      attempts,
    });
  }
  for (let i = 0; i < count; i++) {
    const createdAt = new Date(day0 + Math.floor(random() * 3 * 24 * 60) * 60_000 + Math.floor(random() * 59_000));
    const status = pick(random, ["delivered", "delivered", "sent", "undelivered", "failed", "queued"]);
    const last = { delivered: "delivered", sent: "sent", undelivered: "undelivered", failed: "failed", queued: "unknown" }[status]!;
    const attempts = attemptsFor(random, createdAt, messagingAccounts, last);
    const serving = attempts[attempts.length - 1]!;
    const priceMicros = BigInt(Math.floor(random() * 20_000));
    messages.push({
      id: newId("msg"),
      tenantId,
      environment,
      status,
      provider: serving.provider,
      accountId: serving.accountId,
      priceMicros,
      priceCurrency: random() < 0.9 ? "USD" : "",
      highest: priceMicros + BigInt(Math.floor(random() * 5000)),
      fallback: priceMicros + BigInt(Math.floor(random() * 3000)),
      createdAt,
      attempts,
    });
  }
  return { payments, messages };
}

const microsOf = (minor: bigint, currency: string) => minor * 10n ** BigInt(6 - exponents[currency]!);

function sum<T>(items: readonly T[], value: (item: T) => bigint): bigint {
  return items.reduce((total, item) => total + value(item), 0n);
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

// The true percentile of raw latencies, nearest rank.
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

// A latency read from the histogram lies within its bucket's 20 % width of the true one.
function expectLatencyNear(actualMs: number, trueMs: number) {
  expect((actualMs + 1) / (trueMs + 1)).toBeGreaterThan(1 / 1.2);
  expect((actualMs + 1) / (trueMs + 1)).toBeLessThan(1.2);
}

describeEachEngine("AnalyticsService", (engine) => {
  let db: Database;
  let api: ReturnType<typeof inMemoryApi>;
  let seeded: { payments: SeededPayment[]; messages: SeededMessage[] };
  let noise: { payments: SeededPayment[]; messages: SeededMessage[] }[];
  let deliveries: { createdAt: Date; status: string }[];
  const keys: Record<"test" | "live" | "other", { id: string; secret: string }> = {} as never;

  beforeAll(async () => {
    db = await createTestDatabase(engine);
    await db.migrate(allMigrations);
    const knex = db.knex;
    const tenant = await createTenant(knex, { name: "Analytics", planId: "enterprise" });
    const other = await createTenant(knex, { name: "Other", planId: "enterprise" });
    const key = async (tenantId: string, environment: Environment) => {
      const { row, secret } = await createApiKey(knex, { tenantId, environment, name: "analytics", createdBy: "test" });
      return { id: row.id, secret };
    };
    keys.test = await key(tenant.id, Environment.TEST);
    keys.live = await key(tenant.id, Environment.LIVE);
    keys.other = await key(other.id, Environment.TEST);
    const random = prng(11);
    seeded = generate(random, tenant.id, "test", [keys.test.id, "key_other", ""], 120);
    // Another environment and another tenant, which must never show.
    noise = [generate(random, tenant.id, "live", [keys.live.id], 30), generate(random, other.id, "test", [keys.other.id], 30)];
    for (const set of [seeded, ...noise]) {
      for (const p of set.payments) await seedPayment(knex, p);
      for (const m of set.messages) await seedMessage(knex, m);
    }
    // Webhook deliveries: created pending, then retried to success or given up.
    const endpointId = newId("ep");
    await knex("webhook_endpoints").insert({ id: endpointId, tenant_id: tenant.id, environment: "test", url: "https://hooks.example.com", event_types: "[]", secrets: "[]" });
    deliveries = [];
    for (let i = 0; i < 40; i++) {
      const createdAt = new Date(day0 + Math.floor(random() * 3 * 24) * hourMs + 60_000);
      const eventId = newId("evt");
      await knex("webhook_events").insert({ id: eventId, tenant_id: tenant.id, environment: "test", type: "payment.succeeded", payload: Buffer.from("x"), created_at: createdAt });
      const id = newId("dlv");
      await knex("webhook_deliveries").insert({ id, tenant_id: tenant.id, environment: "test", event_id: eventId, endpoint_id: endpointId, created_at: createdAt });
      const status = pick(random, ["succeeded", "succeeded", "failed", "pending"]);
      if (status !== "pending") await knex("webhook_deliveries").where({ id }).update({ status: "failed" });
      if (status === "succeeded") await knex("webhook_deliveries").where({ id }).update({ status: "pending" });
      if (status === "succeeded") await knex("webhook_deliveries").where({ id }).update({ status: "succeeded" });
      deliveries.push({ createdAt, status });
    }
    api = inMemoryApi(knex, (router) => router.service(AnalyticsService, analyticsService(knex)));
  }, 300_000);
  afterAll(async () => db?.close());

  const client = (which: keyof typeof keys = "test") => api.client(AnalyticsService, keys[which].secret);
  const payments = () => seeded.payments.filter((p) => inRange(p.createdAt));
  const messages = () => seeded.messages.filter((m) => inRange(m.createdAt));

  it("gives the overview of the caller's environment, volume per currency", async () => {
    const { overview } = await client().getOverview({ range });
    const ps = payments();
    const succeeded = ps.filter((p) => p.status === "succeeded");
    const finished = ps.filter((p) => p.status === "succeeded" || p.status === "failed");
    const ms = messages();
    const delivered = ms.filter((m) => m.status === "delivered");
    const messagesFinished = ms.filter((m) => ["delivered", "undelivered", "failed"].includes(m.status));
    const failovers = [...seeded.payments, ...seeded.messages].flatMap((x) => x.attempts.slice(1)).filter((a) => inRange(a.createdAt));
    const ds = deliveries.filter((d) => inRange(d.createdAt));
    const dsFinished = ds.filter((d) => d.status !== "pending");
    const dsSucceeded = ds.filter((d) => d.status === "succeeded");
    const volume = [...groupBy(succeeded, (p) => p.currency)].sort(([a], [b]) => a.localeCompare(b));

    expect(overview).toMatchObject({
      paymentCount: BigInt(ps.length),
      paymentSucceededCount: BigInt(succeeded.length),
      messageCount: BigInt(ms.length),
      messageDeliveredCount: BigInt(delivered.length),
      failoverCount: BigInt(failovers.length),
      deliveryCount: BigInt(dsFinished.length),
      deliverySucceededCount: BigInt(dsSucceeded.length),
    });
    expect(overview!.paymentSuccessRate).toBeCloseTo(succeeded.length / finished.length, 12);
    expect(overview!.messageDeliveryRate).toBeCloseTo(delivered.length / messagesFinished.length, 12);
    expect(overview!.deliverySuccessRate).toBeCloseTo(dsSucceeded.length / dsFinished.length, 12);
    // One amount per currency: never summed across them.
    expect(overview!.paymentVolume.map((v) => [v.currency, v.amount])).toEqual(volume.map(([currency, list]) => [currency, sum(list, (p) => p.amount)]));
    expect(volume.length).toBeGreaterThan(1);
  });

  it("keeps tenants and environments apart", async () => {
    const [live, other] = noise;
    for (const [which, set] of [["live", live!], ["other", other!]] as const) {
      const { overview } = await client(which).getOverview({});
      expect(overview!.paymentCount).toBe(BigInt(set.payments.length));
      expect(overview!.messageCount).toBe(BigInt(set.messages.length));
      expect(overview!.deliveryCount).toBe(0n);
      const { failovers } = await client(which).listFailovers({ pageSize: 100 });
      const expected = set.payments.flatMap((p) => p.attempts.slice(1)).length + set.messages.flatMap((m) => m.attempts.slice(1)).length;
      expect(failovers.length).toBe(Math.min(100, expected));
      expect(failovers.every((f) => set.payments.some((p) => p.id === f.paymentId) || set.messages.some((m) => m.id === f.messageId))).toBe(true);
    }
  });

  it("draws daily series per provider, and volume per currency", async () => {
    const dayOf = (at: Date) => Math.floor(at.getTime() / (24 * hourMs)) * 24 * hourMs;
    const { series } = await client().getTimeSeries({ metric: Metric.PAYMENT_COUNT, granularity: Granularity.DAY, range, groupByProvider: true });
    const expected = [...groupBy(payments(), (p) => p.provider)].sort(([a], [b]) => a.localeCompare(b));
    expect(series.map((s) => s.provider)).toEqual(expected.map(([provider]) => provider));
    for (const [provider, list] of expected) {
      const days = [...groupBy(list, (p) => String(dayOf(p.createdAt)))].sort(([a], [b]) => Number(a) - Number(b));
      expect(series.find((s) => s.provider === provider)!.points.map((p) => [timestampDate(p.time!).getTime(), p.value])).toEqual(
        days.map(([day, ps]) => [Number(day), ps.length]),
      );
    }

    const volume = await client().getTimeSeries({ metric: Metric.PAYMENT_VOLUME, granularity: Granularity.HOUR, range });
    const succeeded = payments().filter((p) => p.status === "succeeded");
    for (const [currency, list] of groupBy(succeeded, (p) => p.currency)) {
      const hours = [...groupBy(list, (p) => String(Math.floor(p.createdAt.getTime() / hourMs) * hourMs))].sort(([a], [b]) => Number(a) - Number(b));
      expect(volume.series.find((s) => s.currency === currency)!.points.map((p) => [timestampDate(p.time!).getTime(), p.value])).toEqual(
        hours.map(([hour, ps]) => [Number(hour), Number(sum(ps, (p) => p.amount))]),
      );
    }

    const rates = await client().getTimeSeries({ metric: Metric.MESSAGE_DELIVERY_RATE, granularity: Granularity.DAY, range });
    const byDay = [...groupBy(messages(), (m) => String(dayOf(m.createdAt)))].sort(([a], [b]) => Number(a) - Number(b));
    expect(rates.series[0]!.points.map((p) => [timestampDate(p.time!).getTime(), p.value])).toEqual(
      byDay.map(([day, ms]) => {
        const finished = ms.filter((m) => ["delivered", "undelivered", "failed"].includes(m.status));
        return [Number(day), finished.filter((m) => m.status === "delivered").length / finished.length];
      }),
    );
  });

  it("compares provider accounts: finished attempts, success rate, latency percentiles and fees", async () => {
    const { providers } = await client().compareProviders({ category: Category.PAYMENTS, range });
    const attempts = seeded.payments.flatMap((p) => p.attempts).filter((a) => inRange(a.createdAt) && a.status !== "unknown");
    const byAccount = groupBy(attempts, (a) => a.accountId);
    expect(providers.map((p) => p.providerAccountId).sort()).toEqual([...byAccount.keys()].sort());
    for (const p of providers) {
      const list = byAccount.get(p.providerAccountId)!;
      expect(p.category).toBe(Category.PAYMENTS);
      expect(p.attemptCount).toBe(BigInt(list.length));
      expect(p.successRate).toBeCloseTo(list.filter((a) => paymentSuccesses.includes(a.status)).length / list.length, 12);
      expectLatencyNear(durationMs(p.latencyP50!), percentile(list.map((a) => a.latencyMs), 0.5));
      expectLatencyNear(durationMs(p.latencyP95!), percentile(list.map((a) => a.latencyMs), 0.95));
      const charged = payments().filter((x) => x.status === "succeeded" && x.accountId === p.providerAccountId);
      const fees = [...groupBy(charged, (x) => x.currency)].sort(([a], [b]) => a.localeCompare(b));
      expect(p.fees.map((f) => [f.currency, f.amount])).toEqual(fees.map(([currency, list]) => [currency, sum(list, (x) => x.fee)]));
    }
    const both = await client().compareProviders({ range });
    expect(both.providers.filter((p) => p.category === Category.MESSAGING).map((p) => p.providerAccountId).sort()).toEqual(["pa_twilio", "pa_vonage"]);
  });

  it("adds up costs per provider and per API key, and what routing saved, per currency and per day", async () => {
    const costs = await client().getCosts({ range });
    const charged = payments().filter((p) => p.status === "succeeded");
    const sent = messages().filter((m) => messageSuccesses.includes(m.status) && m.priceCurrency !== "");
    const expectedLines = [
      ...[...groupBy(charged, (p) => `${p.provider}|${p.currency}`)].map(([key, list]) => {
        const [provider, currency] = key.split("|") as [string, string];
        return { provider, category: Category.PAYMENTS, currency, costMicros: microsOf(sum(list, (p) => p.fee), currency), count: BigInt(list.length) };
      }),
      ...[...groupBy(sent, (m) => m.provider)].map(([provider, list]) => ({
        provider,
        category: Category.MESSAGING,
        currency: "USD",
        costMicros: sum(list, (m) => m.priceMicros),
        count: BigInt(list.length),
      })),
    ];
    const lineKey = (l: { category: Category; provider: string; currency: string }) => `${l.category}|${l.provider}|${l.currency}`;
    expect(costs.lines.map((l) => ({ provider: l.provider, category: l.category, currency: l.currency, costMicros: l.costMicros, count: l.count })).sort((a, b) => lineKey(a).localeCompare(lineKey(b)))).toEqual(
      expectedLines.sort((a, b) => lineKey(a).localeCompare(lineKey(b))),
    );
    const byKey = costs.apiKeyLines.filter((l) => l.category === Category.PAYMENTS && l.apiKeyId === keys.test.id);
    for (const currency of currencies) {
      const list = charged.filter((p) => p.apiKeyId === keys.test.id && p.currency === currency);
      expect(byKey.find((l) => l.currency === currency)?.costMicros ?? 0n).toBe(microsOf(sum(list, (p) => p.fee), currency));
    }
    for (const currency of currencies) {
      const list = charged.filter((p) => p.currency === currency);
      const savings = costs.savings.find((s) => s.category === Category.PAYMENTS && s.currency === currency)!;
      expect(savings).toMatchObject({
        count: BigInt(list.length),
        paidMicros: microsOf(sum(list, (p) => p.fee), currency),
        savedVsHighestMicros: microsOf(sum(list, (p) => p.highest - p.fee), currency),
        savedVsDefaultMicros: microsOf(sum(list, (p) => p.fallback - p.fee), currency),
      });
      const daily = costs.dailySavings.filter((d) => d.savings!.category === Category.PAYMENTS && d.savings!.currency === currency);
      const byDay = groupBy(list, (p) => String(Math.floor(p.createdAt.getTime() / (24 * hourMs)) * 24 * hourMs));
      expect(daily.map((d) => [timestampDate(d.day!).getTime(), d.savings!.savedVsHighestMicros])).toEqual(
        [...byDay].sort(([a], [b]) => Number(a) - Number(b)).map(([day, ps]) => [Number(day), microsOf(sum(ps, (p) => p.highest - p.fee), currency)]),
      );
    }
    const messageSavings = costs.savings.find((s) => s.category === Category.MESSAGING)!;
    expect(messageSavings.savedVsHighestMicros).toBe(sum(sent, (m) => m.highest - m.priceMicros));
    // The seeded month is over: nothing this month.
    expect(costs.projections).toEqual([]);
  });

  it("lists the top errors by normalized reason, provider and provider code", async () => {
    const { errors: top } = await client().listTopErrors({ range, limit: 5 });
    const failed = [...seeded.payments, ...seeded.messages]
      .flatMap((x) => x.attempts)
      .filter((a) => inRange(a.createdAt) && a.error && !paymentSuccesses.includes(a.status) && !messageSuccesses.includes(a.status));
    const counted = [...groupBy(failed, (a) => `${a.error!.reason}|${a.provider}|${a.error!.providerCode}`)]
      .map(([key, list]) => {
        const [reason, provider, providerCode] = key.split("|") as [string, string, string];
        return { reason, provider, providerCode, count: BigInt(list.length) };
      })
      .sort((a, b) => Number(b.count - a.count) || a.reason.localeCompare(b.reason) || a.provider.localeCompare(b.provider) || a.providerCode.localeCompare(b.providerCode));
    expect(top.map((e) => ({ reason: e.reason, provider: e.provider, providerCode: e.providerCode, count: e.count }))).toEqual(counted.slice(0, 5));
    expect((await failure(client().listTopErrors({ limit: 101 }))).field).toBe("limit");
  });

  it("logs every failover: from, to, why, and for which payment or message, page by page", async () => {
    const expected = [
      ...seeded.payments.map((p) => ({ parent: { paymentId: p.id }, attempts: p.attempts })),
      ...seeded.messages.map((m) => ({ parent: { messageId: m.id }, attempts: m.attempts })),
    ]
      .flatMap(({ parent, attempts }) =>
        attempts.slice(1).map((to, i) => ({
          ...parent,
          fromProviderAccountId: attempts[i]!.accountId,
          fromAttemptId: attempts[i]!.id,
          toProviderAccountId: to.accountId,
          toAttemptId: to.id,
          reason: attempts[i]!.error!.reason,
          providerCode: attempts[i]!.error!.providerCode,
          at: to.createdAt,
        })),
      )
      .filter((f) => f.at >= timestampDate(range.startTime) && f.at < timestampDate(range.endTime))
      .sort((a, b) => b.at.getTime() - a.at.getTime() || (a.toAttemptId < b.toAttemptId ? 1 : -1));
    const listed = [];
    let pageToken = "";
    do {
      const page = await client().listFailovers({ range, pageSize: 17, pageToken });
      listed.push(...page.failovers);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(
      listed.map((f) => ({
        ...(f.paymentId ? { paymentId: f.paymentId } : { messageId: f.messageId }),
        fromProviderAccountId: f.fromProviderAccountId,
        fromAttemptId: f.fromAttemptId,
        toProviderAccountId: f.toProviderAccountId,
        toAttemptId: f.toAttemptId,
        reason: f.reason,
        providerCode: f.providerCode,
        at: timestampDate(f.createTime!),
      })),
    ).toEqual(expected);
    const messagesOnly = await client().listFailovers({ range, category: Category.MESSAGING, pageSize: 100 });
    expect(messagesOnly.failovers.every((f) => f.category === Category.MESSAGING && f.messageId !== "" && f.paymentId === "")).toBe(true);
  });

  it("exports payments as CSV that parses back to the rows, formulas neutralized", async () => {
    const { filename, content } = await client().exportCsv({ report: Report.PAYMENTS, range });
    expect(filename).toBe("payments-test-2026-11-01-2026-11-03.csv");
    const rows = parse(Buffer.from(content), { columns: true }) as Record<string, string>[];
    const expected = seeded.payments
      .filter((p) => p.createdAt >= timestampDate(range.startTime) && p.createdAt < timestampDate(range.endTime))
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1));
    expect(rows.map((r) => [r.id, r.status, r.amount_minor, r.currency, r.provider_account_id, r.fee_minor, r.description])).toEqual(
      expected.map((p) => [p.id, p.status, String(p.amount), p.currency, p.accountId, String(p.fee), /^[=+\-@\t\r]/.test(p.description) ? `'${p.description}` : p.description]),
    );
  });

  it("exports deliveries, the provider comparison and costs as CSV matching the other answers", async () => {
    const csv = async (report: Report) => parse(Buffer.from((await client().exportCsv({ report, range })).content), { columns: true }) as Record<string, string>[];
    const deliveryRows = await csv(Report.DELIVERIES);
    expect(deliveryRows.map((r) => r.status).sort()).toEqual(
      deliveries.filter((d) => d.createdAt >= timestampDate(range.startTime) && d.createdAt < timestampDate(range.endTime)).map((d) => d.status).sort(),
    );
    const { providers } = await client().compareProviders({ range });
    const providerRows = await csv(Report.PROVIDERS);
    expect(providerRows.map((r) => [r.provider_account_id, r.attempts, r.fee_currency, r.fees_minor])).toEqual(
      providers.flatMap((p) => (p.fees.length > 0 ? p.fees : [{ currency: "", amount: "" }]).map((f) => [p.providerAccountId, String(p.attemptCount), f.currency, String(f.amount)])),
    );
    const { lines } = await client().getCosts({ range });
    expect((await csv(Report.COSTS)).map((r) => [r.provider, r.currency, r.count, r.cost_micros])).toEqual(
      lines.map((l) => [l.provider, l.currency, String(l.count), String(l.costMicros)]),
    );
  });

  it("adds up a key's stripes: payments and attempts in different stripes read as one total, also after a status move", async () => {
    const knex = db.knex;
    const tenant = await createTenant(knex, { name: "Stripes", planId: "enterprise" });
    const { row: key, secret } = await createApiKey(knex, { tenantId: tenant.id, environment: Environment.TEST, name: "stripes", createdBy: "test" });
    const stripeOf = async (id: string) => Number((await knex.raw(`select ${rollupStripeSql("?::text")} as stripe`, [id])).rows[0].stripe);
    // Two new ids of `prefix` whose rows land in different stripes.
    const apart = async (prefix: string) => {
      const first = newId(prefix);
      for (;;) {
        const second = newId(prefix);
        if ((await stripeOf(second)) !== (await stripeOf(first))) return [first, second] as const;
      }
    };
    const createdAt = new Date(day0 + 10 * hourMs + 60_000);
    const paymentIds = await apart("pay");
    const attemptIds = await apart("att");
    const amounts = [100n, 250n];
    const latencies = [20, 2000];
    for (const [i, id] of paymentIds.entries()) {
      await knex("payments").insert({
        id,
        tenant_id: tenant.id,
        environment: "test",
        amount: amounts[i]!.toString(),
        currency: "USD",
        capture_method: "automatic",
        status: "processing",
        provider: "sandbox",
        provider_account_id: "pa_sandbox",
        api_key_id: key.id,
        fee: "3",
        created_at: createdAt,
        updated_at: createdAt,
      });
      const attempt = { id: attemptIds[i], payment_id: id, tenant_id: tenant.id, environment: "test", provider: "sandbox", provider_account_id: "pa_sandbox" };
      await knex("payment_attempts").insert({ ...attempt, status: "pending", created_at: createdAt, updated_at: createdAt });
      await knex("payment_attempts").where({ id: attempt.id }).update({ status: "succeeded", latency_ms: latencies[i] });
    }
    for (const table of ["payment_rollups", "payment_attempt_rollups"]) {
      expect(new Set((await knex(table).where({ tenant_id: tenant.id }).pluck("stripe")) as number[]).size).toBe(2);
    }
    // Each attempt made its stripe's row: a histogram of its latency alone.
    const histograms = (await knex("payment_attempt_rollups").where({ tenant_id: tenant.id }).select("stripe", "latency_buckets")) as {
      stripe: number;
      latency_buckets: number[];
    }[];
    const alone = (latencyMs: number) => Array.from({ length: latencyBucketCount }, (_, i) => (i + 1 === latencyBucketOf(latencyMs) ? 1 : 0));
    expect(Object.fromEntries(histograms.map((h) => [Number(h.stripe), h.latency_buckets.map(Number)]))).toEqual({
      [await stripeOf(attemptIds[0])]: alone(latencies[0]!),
      [await stripeOf(attemptIds[1])]: alone(latencies[1]!),
    });

    const analytics = api.client(AnalyticsService, secret);
    const before = (await analytics.getOverview({})).overview!;
    expect(before).toMatchObject({ paymentCount: 2n, paymentSucceededCount: 0n, paymentVolume: [] });
    // The first payment moves to succeeded: out of its stripe's processing row, into that stripe's succeeded row.
    await knex("payments").where({ id: paymentIds[0] }).update({ status: "succeeded" });
    const after = (await analytics.getOverview({})).overview!;
    expect(after).toMatchObject({ paymentCount: 2n, paymentSucceededCount: 1n });
    expect(after.paymentVolume.map((v) => [v.currency, v.amount])).toEqual([["USD", 100n]]);
    const rows = (await knex("payment_rollups").where({ tenant_id: tenant.id }).select("stripe", "status", "payments", "amount")) as {
      stripe: unknown;
      status: string;
      payments: unknown;
      amount: unknown;
    }[];
    // Every stripe is a true partial sum: nothing negative, each payment counted once in its own stripe.
    expect(rows.every((r) => Number(r.payments) >= 0 && Number(r.amount) >= 0)).toBe(true);
    expect(rows.filter((r) => Number(r.payments) > 0).map((r) => [Number(r.stripe), r.status, String(r.amount)]).sort()).toEqual(
      [
        [await stripeOf(paymentIds[0]), "succeeded", "100"],
        [await stripeOf(paymentIds[1]), "processing", "250"],
      ].sort(),
    );
    const { providers } = await analytics.compareProviders({ category: Category.PAYMENTS });
    expect(providers).toHaveLength(1);
    expect(providers[0]).toMatchObject({ providerAccountId: "pa_sandbox", attemptCount: 2n, successRate: 1 });
    expectLatencyNear(durationMs(providers[0]!.latencyP95!), 2000);
    expect((await analytics.getCosts({})).lines.map((l) => [l.provider, l.currency, l.count])).toEqual([["sandbox", "USD", 1n]]);
  });

  it("refuses what it cannot answer, naming the field", async () => {
    expect(await failure(client().getTimeSeries({ metric: Metric.PAYMENT_COUNT }))).toMatchObject({ code: Code.InvalidArgument, field: "granularity" });
    expect(await failure(client().getTimeSeries({ granularity: Granularity.DAY }))).toMatchObject({ code: Code.InvalidArgument, field: "metric" });
    expect(
      await failure(client().getOverview({ range: { startTime: range.endTime, endTime: range.startTime } })),
    ).toMatchObject({ code: Code.InvalidArgument, field: "range" });
    expect(await failure(client().exportCsv({ report: Report.UNSPECIFIED }))).toMatchObject({ code: Code.InvalidArgument, field: "report" });
  });
});

// A database from before the rollups had stripes keeps its sums in stripe 0;
// payments written or moved after the upgrade add to their own stripes, and
// every total still reads right.
describeEachEngine("AnalyticsService over rollups from before stripes", (engine) => {
  let db: Database;

  beforeAll(async () => {
    db = await createTestDatabase(engine);
    await db.migrate(allMigrations.filter((m) => m.name < "20261208_380"));
  }, 120_000);
  afterAll(async () => db?.close());

  it("moves a payment recorded before the upgrade out of stripe 0's sums, and adds new ones to their stripes", async () => {
    const knex = db.knex;
    const tenant = await createTenant(knex, { name: "Upgraded", planId: "enterprise" });
    const { row: key, secret } = await createApiKey(knex, { tenantId: tenant.id, environment: Environment.TEST, name: "upgraded", createdBy: "test" });
    const createdAt = new Date(day0 + 3 * hourMs);
    const payment = (id: string, amount: number) => ({
      id,
      tenant_id: tenant.id,
      environment: "test",
      amount: String(amount),
      currency: "EUR",
      capture_method: "automatic",
      status: "processing",
      provider: "sandbox",
      provider_account_id: "pa_sandbox",
      api_key_id: key.id,
      created_at: createdAt,
      updated_at: createdAt,
    });
    await knex("payments").insert(payment("pay_before", 700));
    await db.migrate(allMigrations);
    expect((await knex("payment_rollups").where({ tenant_id: tenant.id }).pluck("stripe")).map(Number)).toEqual([0]);
    await knex("payments").insert(payment("pay_after", 40));
    await knex("payments").whereIn("id", ["pay_before", "pay_after"]).update({ status: "succeeded" });
    const api = inMemoryApi(knex, (router) => router.service(AnalyticsService, analyticsService(knex)));
    const { overview } = await api.client(AnalyticsService, secret).getOverview({});
    expect(overview).toMatchObject({ paymentCount: 2n, paymentSucceededCount: 2n });
    expect(overview!.paymentVolume.map((v) => [v.currency, v.amount])).toEqual([["EUR", 740n]]);
  });
});
