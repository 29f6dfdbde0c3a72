import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { EventType } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { MasterKeyring, OutboxRelay, appendEvent, connectEventStream, loadConfig, openDatabase, type Config, type Database, type EventStream, type Logger } from "@onerouter/core";
import { allMigrations } from "@onerouter/server";
import { createWebhooks } from "@onerouter/webhooks";
import { discardNats, insertEndpoint, insertTenant, startReceiver, type Receiver } from "@onerouter/webhooks/testing";
import { startNats, startPostgres, type NatsServer, type StartedServer } from "../../test/infra";
import { ascending, median, ms, percentile, procStat, ratio, wholeNumber } from "../common";

// Outbound webhooks from commit to a receiver on loopback: deliveries per
// second and commit-to-receipt latency, embedded mode (the feed polls the
// outbox) and JetStream mode (a relay publishes the outbox to JetStream and
// the feed consumes it) side by side. Every run gets a fresh database and, in
// JetStream mode, a fresh nats-server, so no run inherits another's backlog;
// the modes alternate within each round so the machine's noise falls on both.
// Writes REPORT.md next to this file and prints the same Markdown.
//
// Knobs (environment): BENCH_ROUNDS (3), BENCH_ENDPOINTS (1,10),
// BENCH_BURST_DELIVERIES (600), BENCH_COMMITTERS (4), BENCH_STEADY_RATE (200
// deliveries/s), BENCH_STEADY_MS (3000), BENCH_DRAIN_TIMEOUT_MS (30000), and
// the product's own ONEROUTER_WEBHOOK_POLL_MS, ONEROUTER_WEBHOOK_CONCURRENCY,
// ONEROUTER_WEBHOOK_ENDPOINT_CONCURRENCY, passed through.

function endpointCounts(): number[] {
  const raw = process.env.BENCH_ENDPOINTS ?? "1,10";
  const counts = raw.split(",").map((s) => Number(s.trim()));
  if (counts.some((n) => !Number.isInteger(n) || n < 1 || n > 100)) {
    throw new Error(`BENCH_ENDPOINTS must be comma-separated whole numbers from 1 to 100 (got "${raw}")`);
  }
  return counts;
}

const settings = {
  rounds: wholeNumber("BENCH_ROUNDS", 3, 1),
  // Endpoints of the tenant, each owed every event: the fan-out factor.
  endpoints: endpointCounts(),
  // Deliveries per burst run; the events are this divided by the endpoints, so
  // every point moves the same number of webhooks.
  burstDeliveries: wholeNumber("BENCH_BURST_DELIVERIES", 600, 1),
  // Transactions committing a burst's events concurrently, one event each.
  committers: wholeNumber("BENCH_COMMITTERS", 4, 1),
  // Offered load of the steady runs, in deliveries per second (events per
  // second times endpoints), and how long it is offered.
  steadyRate: wholeNumber("BENCH_STEADY_RATE", 200, 1),
  steadyMs: wholeNumber("BENCH_STEADY_MS", 3000, 100),
  // After the last commit, how long a run waits for the last delivery.
  drainTimeoutMs: wholeNumber("BENCH_DRAIN_TIMEOUT_MS", 30_000, 1000),
};

// Deliveries per warm-up run, unrecorded, one per mode before the rounds.
const warmupDeliveries = 50;
// Listened for after the last expected receipt, to catch an immediate repeat.
const duplicateWatchMs = 250;
const stopTimeoutMs = 5000;
const reportFile = path.join(path.dirname(fileURLToPath(import.meta.url)), "REPORT.md");
// The nats-server of the JetStream run under way, stopped by the watchdog too.
const liveNats = new Set<NatsServer>();

const modes = ["embedded", "jetstream"] as const;
type Mode = (typeof modes)[number];
const workloads = ["burst", "steady"] as const;
type Workload = (typeof workloads)[number];

// One workload at one fan-out factor in one mode, in one round.
interface Run {
  mode: Mode;
  workload: Workload;
  endpoints: number;
  events: number;
  expected: number;
  received: number;
  duplicates: number;
  failedAttempts: number;
  // Commit to receipt of each delivery received, ms.
  latenciesMs: number[];
  // First commit to last receipt, ms.
  elapsedMs: number;
  // First commit to last commit, ms.
  commitSpanMs: number;
  // Last commit to last receipt, ms: how far delivery trails the commits at the end.
  drainMs: number;
  stages: Stages;
  // Dispatcher statements by kind: how many, and ms from sending to answer.
  sql: Map<string, { count: number; ms: number }>;
  // What the room logged at warn and above, by message.
  warnings: Map<string, number>;
  cpuMs: CpuReading;
}

// Where a delivery's time goes, ms per delivery, from the rows' timestamps.
interface Stages {
  // Commit to the fan-out that creates its deliveries (poll or JetStream, then the feed).
  toFanOut: number[];
  // Fan-out to the attempt's start (fan-out commit, worker wake, claim, queueing behind the endpoint bound).
  toAttempt: number[];
  // Attempt start to receipt (signing, TCP connect, HTTP request).
  toReceipt: number[];
}

interface CpuReading {
  process: number;
  postgres: number;
  nats: number;
}

const ticksPerSecond = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

// CPU ms of one process; with `children`, of its living children too and,
// through cutime, of those that exited. Linux /proc only; NaN elsewhere.
function processCpuMs(pid: string | undefined, children: boolean): number {
  if (!pid || !existsSync("/proc")) return Number.NaN;
  let ticks = 0;
  for (const candidate of children ? readdirSync("/proc").filter((name) => /^\d+$/.test(name)) : [pid]) {
    const fields = procStat(candidate);
    if (!fields) continue;
    // From the state field on: ppid is at 1; utime, stime, cutime, cstime at 11 to 14.
    const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number) as [number, number, number, number];
    if (candidate === pid) ticks += utime + stime + (children ? cutime + cstime : 0);
    else if (fields[1] === pid) ticks += utime + stime;
  }
  return (ticks * 1000) / ticksPerSecond;
}

function postmasterPid(port: number): string | undefined {
  if (!existsSync("/proc")) return undefined;
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .find((pid) => {
      try {
        const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
        return path.basename(args[0] ?? "") === "postgres" && args.some((arg, i) => arg === "-p" && args[i + 1] === String(port));
      } catch {
        return false;
      }
    });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// Statement kind and table, e.g. "insert webhook_deliveries"; the delivery
// worker's claim (a CTE ending in an update) is named for what it does.
function statementKind(sql: string): string {
  const text = sql.trim().toLowerCase();
  if (text.startsWith("with ranked")) return "claim webhook_deliveries";
  if (text.startsWith("update outbox_events") && text.includes("relay_claimed_until = now()")) return "claim outbox_events (relay)";
  const verb = text.split(/\s+/)[0]!.replace(/;$/, "");
  const table = /\b(?:from|into|update)\s+"?([a-z_]+)"?/.exec(text)?.[1];
  return table ? `${verb} ${table}` : verb;
}

interface Cluster {
  postgres: StartedServer;
  // Migrated once; each run's database is a copy of it.
  templateName: string;
  admin: Database;
  postmaster: string | undefined;
  postgresVersion: string;
  databasesMade: number;
}

function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function freshDatabase(cluster: Cluster): Promise<string> {
  cluster.databasesMade += 1;
  const name = `bench_run_${cluster.databasesMade}`;
  await cluster.admin.knex.raw("create database ?? template ??", [name, cluster.templateName]);
  return databaseUrl(cluster.postgres.url, name);
}

// Counts the room's warnings and errors by message, with the database's or
// client's reason when one is attached, so failures it recovers from by
// itself still show in the report.
function countingLogger(counts: Map<string, number>): Logger {
  return pino(
    { level: "warn" },
    {
      write(line: string) {
        const entry = JSON.parse(line) as { msg?: string; err?: { message?: string } };
        // knex prefixes the statement: "select ... - deadlock detected".
        const reason = entry.err?.message?.split(" - ").at(-1)?.slice(0, 100);
        const key = reason ? `${entry.msg ?? ""} (${reason})` : (entry.msg ?? "");
        counts.set(key, (counts.get(key) ?? 0) + 1);
      },
    },
  );
}

// Loopback endpoints must be allowed explicitly; the delivery settings are
// the product's defaults unless the environment overrides them.
function webhookConfig(): Config {
  const passThrough = ["ONEROUTER_WEBHOOK_POLL_MS", "ONEROUTER_WEBHOOK_CONCURRENCY", "ONEROUTER_WEBHOOK_ENDPOINT_CONCURRENCY"];
  return loadConfig({
    LOG_LEVEL: "silent",
    ONEROUTER_WEBHOOK_ALLOWED_CIDRS: "127.0.0.0/8",
    ...Object.fromEntries(passThrough.flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : []))),
  });
}

async function runOnce(cluster: Cluster, mode: Mode, workload: Workload, endpointCount: number, deliveries: number): Promise<Run> {
  const masterKeys = new MasterKeyring(randomBytes(32));
  const url = await freshDatabase(cluster);
  // The dispatcher's pool as the product opens it; the committers have their
  // own, as an API server's requests would.
  const dispatcherDb = openDatabase({ databaseUrl: url });
  const committerDb = openDatabase({ databaseUrl: url, poolMax: settings.committers });
  let nats: NatsServer | undefined;
  let eventStream: EventStream | undefined;
  let receiver: Receiver | undefined;
  try {
    const events = Math.max(1, Math.round(deliveries / endpointCount));
    const expected = events * endpointCount;
    const receipts = new Map<string, number[]>();
    let uniqueReceipts = 0;
    let lastReceiptAt = Number.NaN;
    let allReceived: () => void = () => {};
    const everyDeliveryArrived = new Promise<void>((resolve) => (allReceived = resolve));
    receiver = await startReceiver((request) => {
      const at = performance.now();
      // The path names the endpoint, webhook-id the event.
      const key = `${request.path} ${request.headers["webhook-id"] ?? ""}`;
      const times = receipts.get(key);
      if (times) times.push(at);
      else {
        receipts.set(key, [at]);
        uniqueReceipts += 1;
        lastReceiptAt = at;
        if (uniqueReceipts === expected) allReceived();
      }
      return { status: 204 };
    });

    const tenantId = await insertTenant(committerDb.knex);
    for (let i = 0; i < endpointCount; i++) {
      await insertEndpoint(committerDb.knex, masterKeys, { tenantId, url: `${receiver.url}/${i}` });
    }
    if (mode === "jetstream") {
      nats = await startNats();
      if (!nats) throw new Error("no nats-server on PATH");
      liveNats.add(nats);
      eventStream = await connectEventStream(nats.url);
    }
    const warnings = new Map<string, number>();
    const webhooks = createWebhooks({
      knex: dispatcherDb.knex,
      masterKeys,
      config: webhookConfig(),
      eventStream,
      logger: countingLogger(warnings),
    });
    // Publishes to JetStream on the dispatcher's pool, as the server runs it beside the room.
    const relay = eventStream && new OutboxRelay(dispatcherDb.knex, eventStream, countingLogger(warnings));

    const sql = new Map<string, { count: number; ms: number }>();
    const sentAt = new Map<string, { kind: string; at: number }>();
    // A listener that throws would fail the room's query, so these never do.
    const tally = (kind: string) => {
      const entry = sql.get(kind) ?? { count: 0, ms: 0 };
      sql.set(kind, entry);
      return entry;
    };
    // BEGIN and COMMIT carry no query id and raise no answer event: counted, not timed.
    const sent = (q: { sql: string; __knexQueryUid?: string }) => {
      const kind = statementKind(q.sql);
      tally(kind).count += 1;
      if (q.__knexQueryUid) sentAt.set(q.__knexQueryUid, { kind, at: performance.now() });
    };
    const answered = (_: unknown, q: { __knexQueryUid?: string }) => {
      const query = q.__knexQueryUid === undefined ? undefined : sentAt.get(q.__knexQueryUid);
      if (!query) return;
      sentAt.delete(q.__knexQueryUid!);
      tally(query.kind).ms += performance.now() - query.at;
    };
    dispatcherDb.knex.on("query", sent);
    dispatcherDb.knex.on("query-response", answered);
    dispatcherDb.knex.on("query-error", answered);

    relay?.start();
    await webhooks.start();
    // Start-up statements (consumer set-up, the first empty polls) are not the workload's.
    sql.clear();
    sentAt.clear();
    const natsPid = nats?.process.pid === undefined ? undefined : String(nats.process.pid);
    const readCpu = (): CpuReading => {
      const own = process.cpuUsage();
      return {
        process: (own.user + own.system) / 1000,
        postgres: processCpuMs(cluster.postmaster, true),
        nats: mode === "jetstream" ? processCpuMs(natsPid, false) : 0,
      };
    };

    // Wall-clock ms of a performance.now() reading, to compare with the rows' timestamps.
    const wallOffset = Date.now() - performance.now();
    const committedAt = new Map<string, number>();
    const commitOne = async () => {
      const event = await committerDb.knex.transaction((trx) =>
        appendEvent(trx, {
          type: EventType.PAYMENT_SUCCEEDED,
          tenantId,
          environment: Environment.TEST,
          data: { case: "test", value: { message: "webhooks benchmark" } },
        }),
      );
      committedAt.set(event.id, performance.now());
    };

    const cpuBefore = readCpu();
    const startedAt = performance.now();
    if (workload === "burst") {
      let next = 0;
      const committer = async () => {
        while (next < events) {
          next += 1;
          await commitOne();
        }
      };
      await Promise.all(Array.from({ length: settings.committers }, committer));
    } else {
      // Open loop: each event's transaction starts on schedule whether or not
      // the previous ones have committed.
      const intervalMs = (1000 * endpointCount) / settings.steadyRate;
      const pending: Promise<void>[] = [];
      for (let i = 0; i < events; i++) {
        const due = startedAt + i * intervalMs;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        pending.push(commitOne());
      }
      await Promise.all(pending);
    }
    const commitTimes = [...committedAt.values()];
    const firstCommit = Math.min(...commitTimes);
    const lastCommit = Math.max(...commitTimes);
    await Promise.race([everyDeliveryArrived, sleep(settings.drainTimeoutMs)]);
    await sleep(duplicateWatchMs);
    const cpuAfter = readCpu();
    await Promise.race([Promise.all([webhooks.stop(), relay?.stop()]), sleep(stopTimeoutMs)]);
    // What follows is the benchmark's own reading of the rows.
    dispatcherDb.knex.off("query", sent);
    dispatcherDb.knex.off("query-response", answered);
    dispatcherDb.knex.off("query-error", answered);

    const latenciesMs: number[] = [];
    let duplicates = 0;
    for (const [key, times] of receipts) {
      const eventId = key.split(" ")[1] ?? "";
      const committed = committedAt.get(eventId);
      if (committed !== undefined) latenciesMs.push(times[0]! - committed);
      duplicates += times.length - 1;
    }

    // A delivery is created by the fan-out, so its creation is the event's fan-out.
    const rows = await dispatcherDb.knex("webhook_delivery_attempts as a")
      .join("webhook_deliveries as d", "d.id", "a.delivery_id")
      .join("webhook_endpoints as e", "e.id", "a.endpoint_id")
      .where("a.attempt_number", 1)
      .select<{ event_id: string; url: string; started_at: Date; fanned_out_at: Date | null }[]>(
        "a.event_id",
        "e.url",
        "a.created_at as started_at",
        "d.created_at as fanned_out_at",
      );
    const stages: Stages = { toFanOut: [], toAttempt: [], toReceipt: [] };
    for (const row of rows) {
      const committed = committedAt.get(row.event_id);
      const received = receipts.get(`${new URL(row.url).pathname} ${row.event_id}`)?.[0];
      if (committed === undefined || !row.fanned_out_at) continue;
      stages.toFanOut.push(row.fanned_out_at.getTime() - (committed + wallOffset));
      stages.toAttempt.push(row.started_at.getTime() - row.fanned_out_at.getTime());
      if (received !== undefined) stages.toReceipt.push(received + wallOffset - row.started_at.getTime());
    }
    const failed = await dispatcherDb.knex("webhook_delivery_attempts").where("status", "failed").count<{ n: string }[]>({ n: "*" });

    return {
      mode,
      workload,
      endpoints: endpointCount,
      events,
      expected,
      received: uniqueReceipts,
      duplicates,
      failedAttempts: Number(failed[0]?.n ?? 0),
      latenciesMs,
      elapsedMs: lastReceiptAt - firstCommit,
      commitSpanMs: lastCommit - firstCommit,
      drainMs: lastReceiptAt - lastCommit,
      stages,
      sql,
      warnings,
      cpuMs: {
        process: cpuAfter.process - cpuBefore.process,
        postgres: cpuAfter.postgres - cpuBefore.postgres,
        nats: cpuAfter.nats - cpuBefore.nats,
      },
    };
  } finally {
    await receiver?.close();
    await eventStream?.close().catch(() => undefined);
    await discardNats(nats);
    if (nats) liveNats.delete(nats);
    await committerDb.close();
    await dispatcherDb.close();
  }
}

interface Point {
  workload: Workload;
  endpoints: number;
  mode: Mode;
  runs: Run[];
  events: number;
  expected: number;
  received: number;
  duplicates: number;
  failedAttempts: number;
  warnings: Map<string, number>;
  deliveriesPerSecond: number;
  // Each round's own deliveries per second and p50, to show the noise.
  roundRates: number[];
  roundP50s: number[];
  roundDrains: number[];
  p50: number;
  p90: number;
  p99: number;
  max: number;
  commitRate: number;
  stages: { toFanOut: number; toAttempt: number; toReceipt: number; toFanOutP99: number; toAttemptP99: number };
  cpuPerDelivery: CpuReading;
}

function summarize(runs: Run[]): Point {
  const first = runs[0]!;
  const sum = (f: (r: Run) => number) => runs.reduce((total, r) => total + f(r), 0);
  const all = ascending(runs.flatMap((r) => r.latenciesMs));
  const received = sum((r) => r.received);
  const stage = (f: (s: Stages) => number[]) => ascending(runs.flatMap((r) => f(r.stages)));
  return {
    workload: first.workload,
    endpoints: first.endpoints,
    mode: first.mode,
    runs,
    events: sum((r) => r.events),
    expected: sum((r) => r.expected),
    received,
    duplicates: sum((r) => r.duplicates),
    failedAttempts: sum((r) => r.failedAttempts),
    warnings: runs.reduce((total, r) => {
      for (const [message, count] of r.warnings) total.set(message, (total.get(message) ?? 0) + count);
      return total;
    }, new Map<string, number>()),
    deliveriesPerSecond: (received / sum((r) => r.elapsedMs)) * 1000,
    roundRates: runs.map((r) => (r.received / r.elapsedMs) * 1000),
    roundP50s: runs.map((r) => median(r.latenciesMs)),
    roundDrains: runs.map((r) => r.drainMs),
    p50: percentile(all, 50),
    p90: percentile(all, 90),
    p99: percentile(all, 99),
    max: all.at(-1) ?? Number.NaN,
    commitRate: (sum((r) => r.events) / sum((r) => r.commitSpanMs)) * 1000,
    stages: {
      toFanOut: percentile(stage((s) => s.toFanOut), 50),
      toAttempt: percentile(stage((s) => s.toAttempt), 50),
      toReceipt: percentile(stage((s) => s.toReceipt), 50),
      toFanOutP99: percentile(stage((s) => s.toFanOut), 99),
      toAttemptP99: percentile(stage((s) => s.toAttempt), 99),
    },
    cpuPerDelivery: {
      process: sum((r) => r.cpuMs.process) / received,
      postgres: sum((r) => r.cpuMs.postgres) / received,
      nats: sum((r) => r.cpuMs.nats) / received,
    },
  };
}

async function main() {
  const runStarted = performance.now();
  const postgres = await startPostgres();
  if (!postgres) throw new Error("no PostgreSQL binaries found (pg_ctl and initdb on PATH or under /usr/lib/postgresql)");
  // The benchmark stops by itself if a run hangs: every run at its drain
  // timeout plus a minute, then Postgres is stopped and the process exits.
  const runsPlanned = 2 + settings.rounds * workloads.length * settings.endpoints.length * modes.length;
  const watchdogMs = runsPlanned * (settings.drainTimeoutMs + settings.steadyMs) + 60_000;
  const watchdog = setTimeout(() => {
    console.error(`the benchmark ran past ${Math.round(watchdogMs / 1000)} s; stopping`);
    void Promise.all([postgres.stop(), ...[...liveNats].map((nats) => discardNats(nats))]).finally(() => process.exit(1));
  }, watchdogMs);
  watchdog.unref();
  const admin = openDatabase({ databaseUrl: postgres.url, poolMax: 1 });
  try {
    const templateName = "bench_template";
    await admin.knex.raw("create database ??", [templateName]);
    const template = openDatabase({ databaseUrl: databaseUrl(postgres.url, templateName) });
    await template.migrate(allMigrations);
    await template.close();
    const versionRow = (await admin.knex.raw("show server_version")) as { rows: { server_version: string }[] };
    const cluster: Cluster = {
      postgres,
      templateName,
      admin,
      postmaster: postmasterPid(Number(new URL(postgres.url).port)),
      postgresVersion: versionRow.rows[0]?.server_version ?? "unknown",
      databasesMade: 0,
    };
    await measure(cluster, runStarted);
  } finally {
    await admin.close().catch(() => undefined);
    await postgres.stop().catch(() => undefined);
  }
}

async function measure(cluster: Cluster, runStarted: number) {
  for (const mode of modes) await runOnce(cluster, mode, "burst", 1, warmupDeliveries);

  const loadBefore = os.loadavg()[0]!;
  const runs: Run[] = [];
  for (let round = 0; round < settings.rounds; round++) {
    let pointIndex = 0;
    for (const workload of workloads) {
      for (const endpoints of settings.endpoints) {
        // Alternate which mode goes first, by point and by round, so neither always follows the other.
        const order = (round + pointIndex++) % 2 === 0 ? modes : [...modes].reverse();
        for (const mode of order) {
          const deliveries =
            workload === "burst" ? settings.burstDeliveries : Math.round((settings.steadyRate * settings.steadyMs) / 1000);
          const run = await runOnce(cluster, mode, workload, endpoints, deliveries);
          runs.push(run);
          console.error(
            `round ${round + 1}/${settings.rounds} ${workload} ×${endpoints} ${mode}: ${run.received}/${run.expected} received, p50 ${ms(median(run.latenciesMs))} ms, ${((run.received / run.elapsedMs) * 1000).toFixed(0)} deliveries/s`,
          );
        }
      }
    }
  }
  const loadAfter = os.loadavg()[0]!;

  const points = workloads.flatMap((workload) =>
    settings.endpoints.flatMap((endpoints) =>
      modes.map((mode) => summarize(runs.filter((r) => r.workload === workload && r.endpoints === endpoints && r.mode === mode))),
    ),
  );
  const report = renderReport({
    points,
    loadBefore,
    loadAfter,
    postgresVersion: cluster.postgresVersion,
    natsVersion: natsServerVersion(),
    runSeconds: (performance.now() - runStarted) / 1000,
  });
  writeFileSync(reportFile, report);
  console.log(report);
}

function natsServerVersion(): string {
  try {
    return execFileSync("nats-server", ["--version"]).toString().trim().replace(/^nats-server:\s*/, "");
  } catch {
    return "unknown";
  }
}

const endpointsText = (n: number) => (n === 1 ? "1 endpoint" : `${n} endpoints`);
const rate = (v: number) => (Number.isNaN(v) ? "–" : v.toFixed(0));
const range = (values: number[], format: (v: number) => string) => `${format(Math.min(...values))}–${format(Math.max(...values))}`;

interface ReportInput {
  points: Point[];
  loadBefore: number;
  loadAfter: number;
  postgresVersion: string;
  natsVersion: string;
  runSeconds: number;
}

function renderReport(input: ReportInput): string {
  const { points } = input;
  const cpus = os.cpus();
  const config = webhookConfig().webhookDelivery;
  const find = (workload: Workload, endpoints: number, mode: Mode) =>
    points.find((p) => p.workload === workload && p.endpoints === endpoints && p.mode === mode)!;
  const lines: string[] = [];
  const out = (...text: string[]) => lines.push(...text);

  out(
    "# Webhooks benchmark",
    "",
    `Generated by \`npm run bench:webhooks\` (bench/webhooks/run.ts) on ${new Date().toISOString()}; each run overwrites this file.`,
    "",
    "## Machine",
    "",
    `- CPU: ${cpus[0]?.model.trim() ?? "unknown"} × ${cpus.length}`,
    `- OS: ${os.type()} ${os.release()} (${os.arch()}), ${(os.totalmem() / 2 ** 20).toFixed(0)} MiB memory`,
    `- Node.js: ${process.version}`,
    `- PostgreSQL: ${input.postgresVersion}, a throw-away local cluster (test/infra.ts: fsync off, so commits cost less than on a durable server)`,
    `- nats-server: ${input.natsVersion}, JetStream with file storage in a throw-away folder, a fresh server for every JetStream run`,
    `- Load average (1 min): ${input.loadBefore.toFixed(1)} before the timed rounds, ${input.loadAfter.toFixed(1)} after, on ${cpus.length} cores; anything above ${cpus.length} is other work on the shared machine competing with this run`,
    `- Whole run: ${input.runSeconds.toFixed(0)} s`,
    "",
    "## Setup",
    "",
    `Everything but Postgres and nats-server runs in this one process: the committers, the webhooks room as \`createWebhooks\` starts it with core's \`OutboxRelay\`, and the receiver (\`startReceiver\`, answering 204 at once), all on 127.0.0.1 and sharing the ${cpus.length} cores with Postgres and NATS.`,
    "",
    "- **Embedded**: no event stream; the outbox feed claims unfanned outbox rows (FOR UPDATE SKIP LOCKED, 100 per batch) every 250 ms when idle and straight away while batches come back full.",
    "- **JetStream**: `connectEventStream`; the outbox relay claims unpublished rows (every 250 ms when idle), publishes them to JetStream and marks them published; the JetStream feed consumes the durable consumer and fans out on arrival.",
    `- Delivery worker in both: the product's settings — concurrency ${config.concurrency}, ${config.endpointConcurrency} in flight per endpoint, poll every ${config.pollMs} ms (woken at once by a fan-out), HTTP timeout ${config.timeoutMs} ms — with 127.0.0.0/8 allowed.`,
    `- Every run: a fresh database copied from one migrated with every room's migrations, one tenant, its endpoints (each owed every event) pointing at the receiver, the dispatcher on its own pool of 10 connections and the committers on another of ${settings.committers}.`,
    `- **Burst**: ${settings.burstDeliveries} deliveries' worth of events (${settings.burstDeliveries} events at 1 endpoint, ${settings.burstDeliveries}/n at n), committed one event per transaction by ${settings.committers} concurrent committers as fast as they go.`,
    `- **Steady**: ${settings.steadyRate} deliveries/s offered for ${settings.steadyMs} ms, one event per transaction started on a fixed schedule (${settings.steadyRate}/n events/s at n endpoints) whether or not earlier ones have committed.`,
    "",
    `Commit time is when the event's transaction resolved in the committer; receipt is when the receiver had the whole request, in the same process and clock. Deliveries/s is deliveries received over first commit to last receipt; in the steady runs it is bounded by the offered rate, and "last commit → last receipt" shows whether delivery kept up (close to the latency) or fell behind (growing with the run). Schedule: one unrecorded ${warmupDeliveries}-delivery burst per mode, then ${settings.rounds} round(s), each running every workload and endpoint count in both modes back to back, the mode going first alternating from point to point and round to round. A run waits up to ${settings.drainTimeoutMs} ms after its last commit for every delivery, then ${duplicateWatchMs} ms more for repeats (a repeat after a lease runs out would come far later and is not looked for). CPU is user + system time per delivery received, from /proc in 10 ms ticks, over commit start to the end of the run.`,
    "",
    "## Results",
    "",
    "Latencies are commit to receipt, in milliseconds, over every delivery of every round.",
    "",
    "| Workload | Endpoints | Mode | Events | Deliveries | Missing | Duplicates | Failed attempts | Room warnings | Commits/s | Deliveries/s | Deliveries/s by round | Last commit → last receipt by round | p50 | p90 | p99 | Max | p50 by round | CPU ms/delivery: process, Postgres, NATS |",
    "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const p of points) {
    out(
      `| ${p.workload} | ${p.endpoints} | ${p.mode} | ${p.events} | ${p.received} | ${p.expected - p.received} | ${p.duplicates} | ${p.failedAttempts} | ${[...p.warnings.values()].reduce((a, b) => a + b, 0)} | ${rate(p.commitRate)} | ${rate(p.deliveriesPerSecond)} | ${range(p.roundRates, rate)} | ${range(p.roundDrains, ms)} | ${ms(p.p50)} | ${ms(p.p90)} | ${ms(p.p99)} | ${ms(p.max)} | ${range(p.roundP50s, ms)} | ${ms(p.cpuPerDelivery.process)}, ${ms(p.cpuPerDelivery.postgres)}, ${p.mode === "jetstream" ? ms(p.cpuPerDelivery.nats) : "–"} |`,
    );
  }

  out("", "## What the room logged", "", "Warnings and errors of the webhooks room (its logger at warn level), by message, summed over the rounds.", "");
  const logged = points.filter((p) => p.warnings.size > 0);
  if (logged.length === 0) out("Nothing, in any run.");
  for (const p of logged) {
    for (const [message, count] of p.warnings) out(`- ${p.workload}, ${endpointsText(p.endpoints)}, ${p.mode}: ${count} × ${message}`);
  }

  out(
    "",
    "## Side by side",
    "",
    "JetStream mode divided by embedded mode, from the same rounds.",
    "",
    "| Workload | Endpoints | p50 JetStream ÷ embedded | p99 JetStream ÷ embedded | Deliveries/s JetStream ÷ embedded |",
    "|---|---:|---:|---:|---:|",
  );
  for (const workload of workloads) {
    for (const endpoints of settings.endpoints) {
      const embedded = find(workload, endpoints, "embedded");
      const jetstream = find(workload, endpoints, "jetstream");
      out(
        `| ${workload} | ${endpoints} | ${ratio(jetstream.p50, embedded.p50)} | ${ratio(jetstream.p99, embedded.p99)} | ${ratio(jetstream.deliveriesPerSecond, embedded.deliveriesPerSecond)} |`,
      );
    }
  }

  out(
    "",
    "## Where a delivery's time goes",
    "",
    "From each delivery's first attempt row and its creation by the fan-out, against the recorded commit and receipt (millisecond timestamps): commit → fan-out is the feed's pick-up (the poll wait in embedded mode; relay poll, publish and JetStream push in JetStream mode); fan-out → attempt covers the fan-out's commit, the worker's wake-up, its claim and load queries and the wait for a free slot under the per-endpoint bound; attempt → receipt is signing plus one HTTP POST on a fresh TCP connection.",
    "",
    "| Workload | Endpoints | Mode | Commit → fan-out p50 | p99 | Fan-out → attempt p50 | p99 | Attempt → receipt p50 |",
    "|---|---:|---|---:|---:|---:|---:|---:|",
  );
  for (const p of points) {
    out(
      `| ${p.workload} | ${p.endpoints} | ${p.mode} | ${ms(p.stages.toFanOut)} | ${ms(p.stages.toFanOutP99)} | ${ms(p.stages.toAttempt)} | ${ms(p.stages.toAttemptP99)} | ${ms(p.stages.toReceipt)} |`,
    );
  }

  const lowest = Math.min(...settings.endpoints);
  const burstSql = { embedded: sqlByKind(find("burst", lowest, "embedded")), jetstream: sqlByKind(find("burst", lowest, "jetstream")) };
  out(
    "",
    `## The dispatcher's SQL, burst at ${endpointsText(lowest)}`,
    "",
    "Statements sent on the dispatcher's pool per delivery received, and milliseconds from sending each to its answer (pool wait excluded; overlapping statements each counted; BEGIN and COMMIT counted only), per delivery and per statement; busiest first.",
    "",
    "| Statement | Embedded: statements per delivery | ms per delivery | ms each | JetStream: statements per delivery | ms per delivery | ms each |",
    "|---|---:|---:|---:|---:|---:|---:|",
  );
  const kinds = [...new Set([...burstSql.embedded.keys(), ...burstSql.jetstream.keys()])];
  const busy = (kind: string) => (burstSql.embedded.get(kind)?.ms ?? 0) + (burstSql.jetstream.get(kind)?.ms ?? 0);
  for (const kind of kinds.sort((a, b) => busy(b) - busy(a))) {
    const timed = kind !== "begin" && kind !== "commit" && kind !== "rollback";
    const cells = modes.map((mode) => {
      const entry = burstSql[mode].get(kind) ?? { count: 0, ms: 0 };
      const received = find("burst", lowest, mode).received;
      const each = entry.count === 0 ? Number.NaN : entry.ms / entry.count;
      return `${(entry.count / received).toFixed(2)} | ${timed ? ms(entry.ms / received) : "–"} | ${timed ? ms(each) : "–"}`;
    });
    out(`| ${kind} | ${cells.join(" | ")} |`);
  }

  out("", "## Interpretation", "", interpretation(input, find), "");
  return lines.join("\n");
}

// Statements of a point's runs by kind, summed over its rounds.
function sqlByKind(point: Point): Map<string, { count: number; ms: number }> {
  const total = new Map<string, { count: number; ms: number }>();
  for (const run of point.runs) {
    for (const [kind, entry] of run.sql) {
      const sum = total.get(kind) ?? { count: 0, ms: 0 };
      sum.count += entry.count;
      sum.ms += entry.ms;
      total.set(kind, sum);
    }
  }
  return total;
}

// The delivery worker's own statements: claim, load, and the recording transaction.
const workerStatements = [
  "claim webhook_deliveries",
  "select webhook_deliveries",
  "insert webhook_delivery_attempts",
  "update webhook_deliveries",
  "update webhook_endpoints",
];

function interpretation(input: ReportInput, find: (workload: Workload, endpoints: number, mode: Mode) => Point): string {
  const cores = os.cpus().length;
  const config = webhookConfig().webhookDelivery;
  const low = Math.min(...settings.endpoints);
  const high = Math.max(...settings.endpoints);
  const steady = { embedded: find("steady", low, "embedded"), jetstream: find("steady", low, "jetstream") };
  const burst = { embedded: find("burst", low, "embedded"), jetstream: find("burst", low, "jetstream") };
  const burstHigh = { embedded: find("burst", high, "embedded"), jetstream: find("burst", high, "jetstream") };

  const hop = steady.jetstream.stages.toFanOut - steady.embedded.stages.toFanOut;
  const hopText =
    steady.jetstream.warnings.size > 0
      ? `and here JetStream's pick-up came out ${ms(Math.abs(hop))} ms ${hop >= 0 ? "slower" : "quicker"} at p50, with the failure the room logged there (below) included`
      : hop > 10
        ? `and here that hop cost about ${ms(hop)} ms more at p50`
        : hop < -10
          ? `and here JetStream mode even came out ${ms(-hop)} ms quicker at p50, within what the phase of a 250 ms poll varies by`
          : "and here the two came out about even";

  const burstRatios = [burst, burstHigh].map((b) => b.jetstream.deliveriesPerSecond / b.embedded.deliveriesPerSecond);
  const transportText = burstRatios.every((r) => Math.abs(r - 1) < 0.25)
    ? "In a burst the transport hardly matters"
    : `In a burst JetStream mode drained ${burstRatios.map((r) => ratio(r, 1)).join(" and ")} as fast as embedded mode`;
  const waitText =
    burst.embedded.stages.toAttempt > burst.embedded.stages.toFanOut
      ? "most of the wait is inside the delivery worker"
      : "the pick-up still outweighs the wait inside the delivery worker";
  const sql = sqlByKind(burst.embedded);
  const steadySql = sqlByKind(steady.embedded);
  const timedMs = (map: Map<string, { count: number; ms: number }>, keep: (kind: string) => boolean) =>
    [...map].filter(([kind]) => keep(kind)).reduce((sum, [, entry]) => sum + entry.ms, 0);
  const workerMs = timedMs(sql, (kind) => workerStatements.includes(kind)) / burst.embedded.received;
  const feedMs = timedMs(sql, (kind) => !workerStatements.includes(kind)) / burst.embedded.received;
  const claim = sql.get("claim webhook_deliveries") ?? { count: 0, ms: Number.NaN };
  const steadyClaim = steadySql.get("claim webhook_deliveries") ?? { count: 0, ms: Number.NaN };
  const claimEach = claim.ms / claim.count;
  const steadyClaimEach = steadyClaim.ms / steadyClaim.count;
  const claimedPerPass = burst.embedded.received / claim.count;

  const burstRoundP50s = [...burst.embedded.roundP50s, ...burst.jetstream.roundP50s];
  const burstRoundRates = [...burst.embedded.roundRates, ...burst.jetstream.roundRates];
  const burstNoise = Math.max(...burstRoundP50s) - Math.min(...burstRoundP50s);
  const burstModeGap = Math.abs(burst.jetstream.p50 - burst.embedded.p50);
  // A point where the room logged a failure has its own cause for spread, told apart above.
  const steadyPoints = settings.endpoints.flatMap((n) => modes.map((mode) => find("steady", n, mode)));
  const quietSteady = steadyPoints.filter((p) => p.warnings.size === 0);
  const steadySpread = Math.max(...quietSteady.map((p) => Math.max(...p.roundP50s) - Math.min(...p.roundP50s)));
  const steadyText =
    quietSteady.length === 0
      ? ""
      : `, while the per-round p50s of each steady point${quietSteady.length < steadyPoints.length ? " where nothing was logged" : ""} stayed within ${ms(steadySpread)} ms of each other`;
  const machineBusy = Math.max(input.loadBefore, input.loadAfter) > cores;
  const loggedText = describeWarnings(input.points);

  return [
    `At a steady ${settings.steadyRate} deliveries/s to ${endpointsText(low)}, a commit reaches the receiver in ${ms(steady.embedded.p50)} ms at p50 in embedded mode and ${ms(steady.jetstream.p50)} ms in JetStream mode (p99 ${ms(steady.embedded.p99)} and ${ms(steady.jetstream.p99)} ms), of which the feed's pick-up (commit → fan-out) takes ${ms(steady.embedded.stages.toFanOut)} and ${ms(steady.jetstream.stages.toFanOut)} ms at p50: embedded mode waits for the outbox feed's 250 ms poll, and JetStream mode does not take that wait away, because its outbox relay polls the outbox on the same 250 ms interval before JetStream pushes the event to the feed — the stream adds a publish-and-push hop rather than replacing the poll, ${hopText}.`,
    `${transportText}: ${burst.embedded.received / settings.rounds} deliveries to ${endpointsText(low)} drain at ${rate(burst.embedded.deliveriesPerSecond)} deliveries/s embedded and ${rate(burst.jetstream.deliveriesPerSecond)} through JetStream (${rate(burstHigh.embedded.deliveriesPerSecond)} and ${rate(burstHigh.jetstream.deliveriesPerSecond)} spread over ${endpointsText(high)}), and ${waitText} (fan-out → attempt p50 ${ms(burst.embedded.stages.toAttempt)} ms against ${ms(burst.embedded.stages.toFanOut)} ms for the pick-up, embedded), the worker keeping at most ${config.endpointConcurrency} deliveries in flight per endpoint, each an HTTP POST on a fresh TCP connection (attempt → receipt ${ms(burst.embedded.stages.toReceipt)} ms at p50) followed by its own recording transaction (attempt insert, delivery update, endpoint-health update).`,
    `The fan-out transaction is cheap by comparison: the feed's and fan-out's statements took ${ms(feedMs)} ms per delivery in the burst to ${endpointsText(low)} against ${ms(workerMs)} ms for the worker's claim, load and recording statements.`,
    `The dearest single statement is the worker's claim, ${ms(claimEach)} ms a call in that burst against ${ms(steadyClaimEach)} ms at steady load (embedded mode in both), at ${claimedPerPass.toFixed(1)} deliveries per claim since passes run one at a time and the per-endpoint bound leaves few free slots: to honour that bound it ranks every due pending delivery of every endpoint (a window over the whole backlog) on each pass, so its cost grows with the backlog and a long queue at one endpoint drains ever more slowly.`,
    loggedText,
    `Each delivery cost ${ms(burst.embedded.cpuPerDelivery.process)} ms of CPU in this process and ${ms(burst.embedded.cpuPerDelivery.postgres)} ms in Postgres in that burst (${ms(burst.jetstream.cpuPerDelivery.nats)} ms more in nats-server in JetStream mode), ${machineBusy ? `while other work kept the load average at ${input.loadBefore.toFixed(1)} before and ${input.loadAfter.toFixed(1)} after the rounds on ${cores} cores, so the absolute rates reflect the CPU share this run could get` : `with the load average at ${input.loadBefore.toFixed(1)} before and ${input.loadAfter.toFixed(1)} after the rounds on ${cores} cores`}; from round to round the burst's p50 at ${endpointsText(low)} ranged over ${range(burstRoundP50s, ms)} ms and its rate over ${range(burstRoundRates, rate)} deliveries/s in the two modes alike, ${burstNoise > burstModeGap ? `more than the ${ms(burstModeGap)} ms between the modes' p50s, so the burst figures do not separate the modes` : `less than the ${ms(burstModeGap)} ms between the modes' p50s`}${steadyText}.`,
  ].join(" ");
}

// One sentence on what the room logged, and on lost or repeated deliveries.
function describeWarnings(points: Point[]): string {
  const missing = points.reduce((sum, p) => sum + p.expected - p.received, 0);
  const duplicates = points.reduce((sum, p) => sum + p.duplicates, 0);
  const deliveries = missing + duplicates === 0 ? "no delivery went missing or arrived twice" : `${missing} deliveries went missing and ${duplicates} arrived twice`;
  const deadlocks = points.flatMap((p) => [...p.warnings].filter(([message]) => message.includes("deadlock detected")).map(([message, count]) => ({ point: p, message, count })));
  const total = points.reduce((sum, p) => sum + [...p.warnings.values()].reduce((a, b) => a + b, 0), 0);
  if (deadlocks.length > 0 && deadlocks.every((d) => d.point.mode === "jetstream")) {
    const count = deadlocks.reduce((sum, d) => sum + d.count, 0);
    const byMessage = new Map<string, number>();
    for (const d of deadlocks) byMessage.set(d.message, (byMessage.get(d.message) ?? 0) + d.count);
    const listed = [...byMessage].map(([message, n]) => `${n} × "${message}"`).join(", ");
    const worstMax = Math.max(...deadlocks.map((d) => d.point.max));
    return `The room logged ${count === 1 ? "a deadlock" : `${count} deadlocks`} in JetStream mode (${listed}${total > count ? `, besides ${total - count} other warning(s) listed above` : ""}), and ${deliveries}: the outbox relay marks rows published with an unordered \`update outbox_events … where id in (…)\` while the JetStream feed's fan-out locks the same rows with \`select … order by id for update\`, so the two can take the row locks in opposite orders; Postgres breaks such a deadlock only after its 1 s deadlock_timeout, and then either the fan-out is aborted (the feed naks its batch for 1 s and pauses 1 s) or the relay's update is (the relay backs off 1 s, and the rows it had just published stay unmarked under their 30 s lease until it publishes them again, a repeat JetStream's duplicate window drops) — a stall of a second or more (largest max at an affected point: ${ms(worstMax)} ms).`;
  }
  if (total > 0) return `The room logged ${total} warning(s) or error(s), listed above, and ${deliveries}.`;
  return `The room logged no warnings or errors, and ${deliveries}.`;
}

// Exits explicitly: nothing left behind (pools, timers, sockets) may keep a
// finished benchmark alive.
main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
