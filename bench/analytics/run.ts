import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { AnalyticsService, Granularity, Metric } from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";
import { PaymentService, PaymentStatus } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { rebuildRollup, type Knex } from "@onerouter/core";
import { messageAttemptRollups, messageRollup } from "@onerouter/messaging";
import { paymentAttemptRollups, paymentRollup } from "@onerouter/payments";
import { rebuildAttemptRollups } from "@onerouter/routing";
import type { OneRouter } from "@onerouter/server";
import { ascending, median, ms, percentile, wholeNumber } from "../common";
import { apiKeyTransport, runBenchmark, seededPaymentAttemptsSql, withPostgresApp } from "../postgres-app";

// Analytics at a million rows on real Postgres: 1,000,000 payments and
// 1,000,000 messages over 30 days (with their attempts, a tenth of them
// failed over) are bulk-loaded with generate_series and their rollups built
// set-based; then, run after run, GetOverview and a 30-day daily series are
// timed through the API, and CreatePayment on the built-in sandbox is timed
// with the rollup triggers on and off in alternating slices, so the machine's
// noise falls on both alike. Writes REPORT.md next to this file and prints it.
//
// Knobs (environment): BENCH_PAYMENTS (1000000), BENCH_MESSAGES (1000000),
// BENCH_RUNS (3), BENCH_QUERIES (60 per query and run), BENCH_SLICES (4 per
// mode and run), BENCH_SLICE_PAYMENTS (100), BENCH_CONCURRENCY (4).

const settings = {
  payments: wholeNumber("BENCH_PAYMENTS", 1_000_000, 1000),
  messages: wholeNumber("BENCH_MESSAGES", 1_000_000, 1000),
  runs: wholeNumber("BENCH_RUNS", 3, 1),
  queries: wholeNumber("BENCH_QUERIES", 60, 5),
  slices: wholeNumber("BENCH_SLICES", 4, 1),
  slicePayments: wholeNumber("BENCH_SLICE_PAYMENTS", 100, 10),
  concurrency: wholeNumber("BENCH_CONCURRENCY", 4, 1),
};

const reportFile = path.join(path.dirname(fileURLToPath(import.meta.url)), "REPORT.md");
const dayMs = 24 * 3600_000;
const rollupTriggers = [
  ["payments", "payment_rollups_track"],
  ["payment_attempts", "payment_attempt_rollups_track"],
  ["messages", "message_rollups_track"],
  ["message_attempts", "message_attempt_rollups_track"],
] as const;

async function setRollupTriggers(knex: Knex, enabled: boolean, tables: readonly string[] = rollupTriggers.map(([t]) => t)) {
  for (const [table, trigger] of rollupTriggers) {
    if (tables.includes(table)) await knex.raw(`alter table ${table} ${enabled ? "enable" : "disable"} trigger ${trigger}`);
  }
}

// The rows, set-based, with the triggers off; then the rollups from them.
async function seed(knex: Knex, tenantId: string, start: Date): Promise<{ loadMs: number; rollupMs: number }> {
  const batch = 250_000;
  const spanSeconds = 30 * 24 * 3600;
  const loadStarted = performance.now();
  await setRollupTriggers(knex, false);
  const accounts = `(array['pa_bench_sandbox', 'pa_bench_stripe', 'pa_bench_razorpay'])`;
  const providers = `(array['sandbox', 'stripe', 'razorpay'])`;
  for (let from = 0; from < settings.payments; from += batch) {
    const to = Math.min(settings.payments, from + batch) - 1;
    const at = `to_timestamp(${start.getTime() / 1000} + i * ${spanSeconds / settings.payments})`;
    await knex.raw(
      `insert into payments (id, tenant_id, environment, amount, currency, capture_method, status, description, provider,
         provider_account_id, api_key_id, fee, highest_eligible_fee, default_provider_fee, created_at, updated_at)
       select 'pay_bench_' || i, ?, 'test', 100 + i % 50000, (array['USD', 'EUR', 'INR', 'JPY'])[i % 4 + 1], 'automatic',
         case when i % 20 = 0 then 'failed' else 'succeeded' end, 'order ' || i, ${providers}[i % 3 + 1], ${accounts}[i % 3 + 1],
         '', 30 + i % 70, 60 + i % 90, 45 + i % 80, ${at}, ${at}
       from generate_series(${from}, ${to}) i`,
      [tenantId],
    );
    await knex.raw(
      seededPaymentAttemptsSql({ prefix: "bench", from, to, at, tenant: "?", provider: `${providers}[(i + n) % 3 + 1]`, account: `${accounts}[(i + n) % 3 + 1]` }),
      [tenantId],
    );
  }
  for (let from = 0; from < settings.messages; from += batch) {
    const to = Math.min(settings.messages, from + batch) - 1;
    const at = `to_timestamp(${start.getTime() / 1000} + i * ${spanSeconds / settings.messages})`;
    await knex.raw(
      `insert into messages (id, tenant_id, environment, channel, status, content, country, segments, billable_units, provider,
         provider_account_id, price_micros, price_currency, highest_eligible_price_micros, default_provider_price_micros, created_at, updated_at)
       select 'msg_bench_' || i, ?, 'test', 'sms', (array['delivered', 'delivered', 'delivered', 'sent', 'undelivered', 'failed'])[i % 6 + 1],
         '{"to":"+15550100","body":"hi"}'::jsonb, 'US', 1, 1, (array['twilio', 'vonage'])[i % 2 + 1],
         (array['pa_bench_twilio', 'pa_bench_vonage'])[i % 2 + 1], 7900, 'USD', 9000, 8500, ${at}, ${at}
       from generate_series(${from}, ${to}) i`,
      [tenantId],
    );
    await knex.raw(
      `insert into message_attempts (id, message_id, tenant_id, environment, provider, provider_account_id, status, error,
         latency_ms, price_micros, created_at, updated_at)
       select 'matt_bench_' || i || '_' || n, 'msg_bench_' || i, ?, 'test', (array['twilio', 'vonage'])[(i + n) % 2 + 1],
         (array['pa_bench_twilio', 'pa_bench_vonage'])[(i + n) % 2 + 1],
         case when n = 0 and i % 10 = 0 then 'failed' else (array['delivered', 'delivered', 'delivered', 'sent', 'undelivered', 'failed'])[i % 6 + 1] end,
         case when n = 0 and i % 10 = 0 then '{"reason":"PROVIDER_UNAVAILABLE","providerCode":"503"}'::jsonb end,
         80 + (i::bigint * 104729) % 1500, 7900, ${at} + n * interval '1 second', ${at} + n * interval '1 second'
       from generate_series(${from}, ${to}) i cross join generate_series(0, 1) n
       where n = 0 or i % 10 = 0`,
      [tenantId],
    );
  }
  const loadMs = performance.now() - loadStarted;
  const rollupStarted = performance.now();
  await rebuildRollup(knex, paymentRollup);
  await rebuildAttemptRollups(knex, paymentAttemptRollups);
  await rebuildRollup(knex, messageRollup);
  await rebuildAttemptRollups(knex, messageAttemptRollups);
  await setRollupTriggers(knex, true);
  await knex.raw("analyze");
  return { loadMs, rollupMs: performance.now() - rollupStarted };
}

async function timed(call: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await call();
  return performance.now() - started;
}

// `count` CreatePayments, `concurrency` at a time; each one's latency.
async function recordPayments(call: () => Promise<void>, count: number, concurrency: number): Promise<{ latencies: number[]; elapsedMs: number }> {
  const latencies: number[] = [];
  let started = 0;
  const began = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < count) {
        started++;
        latencies.push(await timed(call));
      }
    }),
  );
  return { latencies, elapsedMs: performance.now() - began };
}

interface RunFigures {
  overview: number[];
  series: number[];
  compare: number[];
  costs: number[];
  withRollups: { latencies: number[]; elapsedMs: number };
  withoutRollups: { latencies: number[]; elapsedMs: number };
}

const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const p95 = (values: readonly number[]) => percentile(ascending(values), 95);
const spread = (values: readonly number[]) => {
  const sorted = ascending(values);
  return `${ms(sorted[0]!)} / ${ms(median(sorted))} / ${ms(sorted[sorted.length - 1]!)}`;
};

async function measure(app: OneRouter, seeded: { loadMs: number; rollupMs: number }, range: { start: Date; end: Date }) {
  const transport = await apiKeyTransport(app, app.defaultTenantId, "analytics benchmark", settings.concurrency);
  const analytics = createClient(AnalyticsService, transport);
  const payments = createClient(PaymentService, transport);
  const timeRange = { startTime: timestampFromDate(range.start), endTime: timestampFromDate(range.end) };
  const queries = {
    overview: () => analytics.getOverview({ range: timeRange }),
    series: () => analytics.getTimeSeries({ metric: Metric.PAYMENT_COUNT, granularity: Granularity.DAY, range: timeRange, groupByProvider: true }),
    compare: () => analytics.compareProviders({ range: timeRange }),
    costs: () => analytics.getCosts({ range: timeRange }),
  };
  const overview = await analytics.getOverview({ range: timeRange });
  const createPayment = async () => {
    const { payment } = await payments.createPayment({ amount: 2500n, currency: "USD" });
    if (payment?.status !== PaymentStatus.SUCCEEDED) throw new Error(`a benchmark payment ended ${payment?.status}`);
  };
  // Warm-up: JIT, pools, the sandbox account's caches.
  await recordPayments(createPayment, 50, settings.concurrency);
  for (const query of Object.values(queries)) for (let i = 0; i < 5; i++) await query();

  const runs: RunFigures[] = [];
  for (let run = 0; run < settings.runs; run++) {
    const figures: RunFigures = { overview: [], series: [], compare: [], costs: [], withRollups: { latencies: [], elapsedMs: 0 }, withoutRollups: { latencies: [], elapsedMs: 0 } };
    // The queries take turns, so each sees the same machine.
    for (let i = 0; i < settings.queries; i++) {
      for (const [name, query] of Object.entries(queries) as [keyof typeof queries, () => Promise<unknown>][]) figures[name].push(await timed(query));
    }
    for (let slice = 0; slice < settings.slices; slice++) {
      // Which mode goes first alternates, so neither always follows the other.
      const order = slice % 2 === 0 ? [true, false] : [false, true];
      for (const withRollups of order) {
        await setRollupTriggers(app.db.knex, withRollups, ["payments", "payment_attempts"]);
        const measured = await recordPayments(createPayment, settings.slicePayments, settings.concurrency);
        const into = withRollups ? figures.withRollups : figures.withoutRollups;
        into.latencies.push(...measured.latencies);
        into.elapsedMs += measured.elapsedMs;
      }
    }
    await setRollupTriggers(app.db.knex, true);
    runs.push(figures);
    console.error(`run ${run + 1}: overview p95 ${ms(p95(figures.overview))} ms, series p95 ${ms(p95(figures.series))} ms, recording ${ms(mean(figures.withRollups.latencies))} vs ${ms(mean(figures.withoutRollups.latencies))} ms`);
  }
  return report(runs, seeded, overview.overview!);
}

function report(runs: RunFigures[], seeded: { loadMs: number; rollupMs: number }, overview: { paymentCount: bigint; messageCount: bigint; failoverCount: bigint }): string {
  const perRun = (f: (r: RunFigures) => number) => runs.map(f);
  const costRatio = (r: RunFigures) => mean(r.withRollups.latencies) / mean(r.withoutRollups.latencies);
  const throughput = (m: { latencies: number[]; elapsedMs: number }) => (1000 * m.latencies.length) / m.elapsedMs;
  const overviewP95 = perRun((r) => p95(r.overview));
  const seriesP95 = perRun((r) => p95(r.series));
  const ratios = perRun(costRatio);
  const worstQuery = Math.max(...overviewP95, ...seriesP95);
  const worstRatio = Math.max(...ratios);
  const cores = os.cpus().length;
  const load = os.loadavg()[0]!;
  const lines = [
    "# Analytics benchmark",
    "",
    `Generated by \`npm run bench:analytics\` (bench/analytics/run.ts) on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cores} cores (load average ${load.toFixed(1)} at the end), Postgres started by the benchmark (fsync off).`,
    "",
    "## Data",
    "",
    `${settings.payments.toLocaleString("en")} payments and ${settings.messages.toLocaleString("en")} messages over 30 days in one tenant's test environment, each with an attempt and a tenth with a second one (a failover): ` +
      `the overview counts ${overview.paymentCount} payments, ${overview.messageCount} messages and ${overview.failoverCount} failovers. ` +
      `Loaded with generate_series in ${(seeded.loadMs / 1000).toFixed(1)} s (rollup triggers off), rollups then built set-based in ${(seeded.rollupMs / 1000).toFixed(1)} s.`,
    "",
    `## Queries (${settings.queries} calls of each per run, through the API over HTTP/1.1, ${settings.runs} runs)`,
    "",
    "min / median / max over the runs, in ms:",
    "",
    "| call | p50 | p95 | max |",
    "| --- | --- | --- | --- |",
    ...(
      [
        ["GetOverview, 30 days", "overview"],
        ["GetTimeSeries PAYMENT_COUNT, daily, 30 days, per provider", "series"],
        ["CompareProviders, 30 days", "compare"],
        ["GetCosts, 30 days (with savings)", "costs"],
      ] as const
    ).map(
      ([label, key]) =>
        `| ${label} | ${spread(perRun((r) => median(r[key])))} | ${spread(perRun((r) => p95(r[key])))} | ${spread(perRun((r) => Math.max(...r[key])))} |`,
    ),
    "",
    `## Recording a payment with and without rollups (CreatePayment on the built-in sandbox, concurrency ${settings.concurrency}, ${settings.slices} alternating slices of ${settings.slicePayments} per mode and run)`,
    "",
    "min / median / max over the runs:",
    "",
    "| | mean latency (ms) | p95 latency (ms) | payments/s |",
    "| --- | --- | --- | --- |",
    `| rollup triggers on | ${spread(perRun((r) => mean(r.withRollups.latencies)))} | ${spread(perRun((r) => p95(r.withRollups.latencies)))} | ${spread(perRun((r) => throughput(r.withRollups)))} |`,
    `| rollup triggers off | ${spread(perRun((r) => mean(r.withoutRollups.latencies)))} | ${spread(perRun((r) => p95(r.withoutRollups.latencies)))} | ${spread(perRun((r) => throughput(r.withoutRollups)))} |`,
    `| on / off (mean latency) | ${ratios.map((r) => `${r.toFixed(3)}×`).join(", ")} | | |`,
    "",
    "## Reading",
    "",
    `Targets: an overview and a 30-day daily series under 200 ms at p95 — the worst run's p95 was ${ms(worstQuery)} ms (${worstQuery < 200 ? "met" : "NOT met"}); ` +
      `recording a payment at most 10 % dearer with rollups — the worst run measured ${((worstRatio - 1) * 100).toFixed(1)} % (${worstRatio <= 1.1 ? "met" : "NOT met"}). ` +
      "The queries read the hourly rollups (about 720 rows per account and status for 30 days), never the two million rows; the rollups are kept by triggers in the transactions that record payments, attempts and messages, so on the write path they cost one upsert per change of a payment's status or account and one per settled attempt. " +
      "The machine is shared and its noise falls on both recording modes alike, as they alternate slice by slice.",
    "",
  ];
  return lines.join("\n");
}

async function main() {
  await withPostgresApp({}, async (app) => {
    await app.ensureSandboxDefaults(app.defaultTenantId);
    const end = new Date(Math.ceil(Date.now() / dayMs) * dayMs);
    const start = new Date(end.getTime() - 30 * dayMs);
    console.error(`seeding ${settings.payments} payments and ${settings.messages} messages...`);
    const seeded = await seed(app.db.knex, app.defaultTenantId, start);
    console.error(`seeded in ${((seeded.loadMs + seeded.rollupMs) / 1000).toFixed(1)} s`);
    const markdown = await measure(app, seeded, { start, end });
    writeFileSync(reportFile, markdown);
    console.log(markdown);
  });
}

runBenchmark(main);
