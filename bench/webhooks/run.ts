import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { EventSchema, EventType } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Resvg } from "@resvg/resvg-js";
import { MasterKeyring, OutboxRelay, appendEvent, connectEventStream, listenForCommits, loadConfig, openDatabase, outboxNotifyChannel, type Config, type Database, type EventStream, type Knex, type Logger } from "@onerouter/core";
import { allMigrations, heapGrowingPercent, limitHeapGrowth } from "@onerouter/server";
import { createWebhooks, OutboxFeed } from "@onerouter/webhooks";
import { discardNats, insertEndpoint, insertTenant, startReceiver, type Receiver } from "@onerouter/webhooks/testing";
import { startNats, startPostgres, type NatsServer, type StartedServer } from "../../test/infra";
import { ascending, keepPreloadsToThisProcess, mebibytes, median, memoryParts, ms, percentile, processDescription, procStat, ratio, watchMemory, wholeNumber } from "../common";
import { profileOf, profileTable, topSelfTime, type ProfileEntry } from "../cpu-profile";

// Outbound webhooks from commit to a receiver on loopback, against the
// targets: a burst to 10 endpoints, 1,000 deliveries/s offered to 10
// endpoints, commit-to-receipt latency at 200/s to one endpoint, and a
// 50,000-delivery backlog at one endpoint beside 200/s to 10 others. Embedded
// mode (the feed reads the outbox) and JetStream mode (a relay publishes the
// outbox to JetStream and the feed consumes it) side by side. Every run gets a
// fresh database and, in JetStream mode, a fresh nats-server, so no run
// inherits another's backlog; the modes alternate within each round so the
// machine's noise falls on both. The process profiles itself over the rounds.
// Writes REPORT.md and chart.png next to this file and prints the Markdown.
//
// Knobs (environment): BENCH_ROUNDS (3), BENCH_BURST_DELIVERIES (3000),
// BENCH_COMMITTERS (4), BENCH_OFFERED_RATE (1000 deliveries/s),
// BENCH_LATENCY_RATE (200 deliveries/s), BENCH_STEADY_MS (3000),
// BENCH_BACKLOG (50000), BENCH_DRAIN_TIMEOUT_MS (30000), BENCH_NOTIFY_COMMITS
// (3000), BENCH_FEED_EVENTS (300), BENCH_POINTS (every
// point; e.g. "steady:1,backlog:10" runs only those workloads at those
// fan-outs, for a quick comparison), BENCH_MODES (both; "jetstream" runs
// only that mode's runs of the points chosen), and the product's
// own ONEROUTER_WEBHOOK_POLL_MS, ONEROUTER_WEBHOOK_CONCURRENCY,
// ONEROUTER_WEBHOOK_ENDPOINT_CONCURRENCY, ONEROUTER_WEBHOOK_BEHIND_AFTER_MS,
// ONEROUTER_WEBHOOK_BACKLOG_RATE, passed through.

const settings = {
  rounds: wholeNumber("BENCH_ROUNDS", 3, 1),
  // Deliveries per burst run, to 10 endpoints each owed every event.
  burstDeliveries: wholeNumber("BENCH_BURST_DELIVERIES", 3000, 10),
  // Transactions committing a burst's events concurrently, one event each.
  committers: wholeNumber("BENCH_COMMITTERS", 4, 1),
  // Offered loads, in deliveries per second (events per second times
  // endpoints), and how long each is offered.
  offeredRate: wholeNumber("BENCH_OFFERED_RATE", 1000, 1),
  latencyRate: wholeNumber("BENCH_LATENCY_RATE", 200, 1),
  steadyMs: wholeNumber("BENCH_STEADY_MS", 3000, 100),
  // Deliveries owed to the backlogged endpoint before the backlog run starts.
  backlog: wholeNumber("BENCH_BACKLOG", 50_000, 1),
  // After the last commit, how long a run waits for the last delivery.
  drainTimeoutMs: wholeNumber("BENCH_DRAIN_TIMEOUT_MS", 30_000, 1000),
  // Events committed per run of the NOTIFY comparison (0 leaves it out).
  notifyCommits: wholeNumber("BENCH_NOTIFY_COMMITS", 3000, 0),
  // Events committed per run of the low-load feed comparison (0 leaves it out).
  feedEvents: wholeNumber("BENCH_FEED_EVENTS", 300, 0),
};

// The low-load feed comparison commits one event every this many ms.
const feedPaceMs = 10;

// Deliveries per warm-up run, unrecorded, one per mode before the rounds.
const warmupDeliveries = 50;
// Every run starts on a fresh database with fresh pools, whose first
// statements open connections and prepare statements: the run first commits
// this many events, one every runWarmupPaceMs, unrecorded, and waits for
// their deliveries, so its timed commits find the room as a server that has
// been running does. Without it, the events of a run's first 0.35 s held
// every delivery over 60 ms in the steady and backlog runs (their p99s).
const runWarmupEvents = 50;
const runWarmupPaceMs = 10;
// Listened for after the last expected receipt, to catch an immediate repeat.
const duplicateWatchMs = 250;
const stopTimeoutMs = 5000;
const benchDir = path.dirname(fileURLToPath(import.meta.url));
const reportFile = path.join(benchDir, "REPORT.md");
const chartFile = path.join(benchDir, "chart.png");
// Top functions of the profile taken before the push-based delivery, by the same summary.
const profileBeforeFile = path.join(benchDir, "profile-before.md");
// The nats-server of the JetStream run under way, stopped by the watchdog too.
const liveNats = new Set<NatsServer>();

const modes = ["embedded", "jetstream"] as const;
type Mode = (typeof modes)[number];
type Workload = "burst" | "offered" | "steady" | "backlog";

// A point of the benchmark: a workload at a fan-out factor, in some modes.
interface PointSpec {
  workload: Workload;
  endpoints: number;
  // Offered deliveries per second; unset for a burst.
  rate?: number;
  modes: readonly Mode[];
}

// The backlog does not depend on the transport, so it runs in embedded mode,
// beside the same load without a backlog to compare with.
const allPointSpecs: PointSpec[] = [
  { workload: "burst", endpoints: 10, modes },
  { workload: "offered", endpoints: 10, rate: settings.offeredRate, modes },
  { workload: "steady", endpoints: 1, rate: settings.latencyRate, modes },
  { workload: "steady", endpoints: 10, rate: settings.latencyRate, modes: ["embedded"] },
  { workload: "backlog", endpoints: 10, rate: settings.latencyRate, modes: ["embedded"] },
];
const chosenPoints = process.env.BENCH_POINTS?.split(",").map((p) => p.trim());
const chosenModes = process.env.BENCH_MODES?.split(",").map((m) => m.trim());
const pointSpecs = (chosenPoints ? allPointSpecs.filter((s) => chosenPoints.includes(`${s.workload}:${s.endpoints}`)) : allPointSpecs)
  .map((s) => (chosenModes ? { ...s, modes: s.modes.filter((m) => chosenModes.includes(m)) } : s))
  .filter((s) => s.modes.length > 0);

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
  // Backlog runs: deliveries the backlogged endpoint received during the run.
  backlogReceived: number;
  // The run's warm-up: its slowest commit to receipt, ms.
  warmupMaxMs: number;
}

// Where a delivery's time goes, ms per delivery, from the rows' timestamps.
interface Stages {
  // Commit to the fan-out that creates its deliveries (poll or JetStream, then the feed).
  toFanOut: number[];
  // JetStream mode: commit to the relay's marking it published, once JetStream acknowledged it.
  toRelayed: number[];
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
  if (text.startsWith("with claimed")) return "claim webhook_deliveries";
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
  const passThrough = [
    "ONEROUTER_WEBHOOK_POLL_MS",
    "ONEROUTER_WEBHOOK_CONCURRENCY",
    "ONEROUTER_WEBHOOK_ENDPOINT_CONCURRENCY",
    "ONEROUTER_WEBHOOK_BEHIND_AFTER_MS",
    "ONEROUTER_WEBHOOK_BACKLOG_RATE",
  ];
  return loadConfig({
    LOG_LEVEL: "silent",
    ONEROUTER_WEBHOOK_ALLOWED_CIDRS: "127.0.0.0/8",
    ...Object.fromEntries(passThrough.flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : []))),
  });
}

// A backlog owed to one endpoint of another tenant: its own events (the same
// payload under fresh ids), all due now.
async function seedBacklog(knex: Knex, masterKeys: MasterKeyring, url: string, deliveries: number): Promise<void> {
  const tenantId = await insertTenant(knex);
  const { id: endpointId } = await insertEndpoint(knex, masterKeys, { tenantId, url });
  const payload = toBinary(
    EventSchema,
    create(EventSchema, {
      id: "evt_backlog",
      tenantId,
      type: "payment.succeeded",
      environment: Environment.TEST,
      createTime: timestampFromDate(new Date()),
      data: { case: "test", value: { message: "webhooks benchmark backlog" } },
    }),
  );
  await knex.raw(
    `insert into webhook_events (id, tenant_id, environment, type, payload, created_at)
     select 'evt_backlog_' || g, ?, 'test', 'payment.succeeded', ?, now() from generate_series(1, ?) g`,
    [tenantId, Buffer.from(payload), deliveries],
  );
  await knex.raw(
    `insert into webhook_deliveries (id, tenant_id, environment, event_id, endpoint_id, status, next_attempt_at, created_at, updated_at)
     select 'dlv_backlog_' || g, ?, 'test', 'evt_backlog_' || g, ?, 'pending', now(), now(), now() from generate_series(1, ?) g`,
    [tenantId, endpointId, deliveries],
  );
  await knex.raw("analyze webhook_deliveries");
}

async function runOnce(cluster: Cluster, mode: Mode, spec: PointSpec, deliveries: number): Promise<Run> {
  const { workload, endpoints: endpointCount } = spec;
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
    let backlogReceived = 0;
    // The warm-up's events by id, with their commit times; their receipts.
    const warmupCommittedAt = new Map<string, number>();
    const warmupExpected = runWarmupEvents * endpointCount;
    let warmupMaxMs = 0;
    let warmupReceived = 0;
    let allWarmupReceived: () => void = () => {};
    const everyWarmupDeliveryArrived = new Promise<void>((resolve) => (allWarmupReceived = resolve));
    receiver = await startReceiver((request) => {
      const at = performance.now();
      if (request.path.endsWith("/backlog")) {
        backlogReceived += 1;
        return { status: 204 };
      }
      // The path names the endpoint, webhook-id the event.
      const eventId = String(request.headers["webhook-id"] ?? "");
      const warmupCommit = warmupCommittedAt.get(eventId);
      if (warmupCommit !== undefined) {
        warmupMaxMs = Math.max(warmupMaxMs, at - warmupCommit);
        if (++warmupReceived === warmupExpected) allWarmupReceived();
        return { status: 204 };
      }
      const key = `${request.path} ${eventId}`;
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
    if (workload === "backlog") await seedBacklog(committerDb.knex, masterKeys, `${receiver.url}/backlog`, settings.backlog);
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
    for (let i = 0; i < runWarmupEvents; i++) {
      const event = await commitBenchEvent(committerDb.knex, tenantId);
      warmupCommittedAt.set(event.id, performance.now());
      await sleep(runWarmupPaceMs);
    }
    await Promise.race([everyWarmupDeliveryArrived, sleep(settings.drainTimeoutMs)]);
    // A warm-up delivery that never came is a lost delivery, not noise.
    if (warmupReceived < warmupExpected) {
      throw new Error(`${warmupReceived} of the warm-up's ${warmupExpected} deliveries arrived within ${settings.drainTimeoutMs} ms`);
    }
    // Start-up and warm-up statements (consumer set-up, the first empty polls) are not the workload's.
    sql.clear();
    sentAt.clear();
    backlogReceived = 0;
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
      const event = await commitBenchEvent(committerDb.knex, tenantId);
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
      const intervalMs = (1000 * endpointCount) / spec.rate!;
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
    const backlogDuringRun = backlogReceived;
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
      .leftJoin("outbox_events as o", "o.id", "a.event_id")
      .where("a.attempt_number", 1)
      .select<{ event_id: string; url: string; started_at: Date; fanned_out_at: Date | null; published_at: Date | null }[]>(
        "a.event_id",
        "e.url",
        "a.created_at as started_at",
        "d.created_at as fanned_out_at",
        "o.published_at",
      );
    const stages: Stages = { toFanOut: [], toRelayed: [], toAttempt: [], toReceipt: [] };
    for (const row of rows) {
      const committed = committedAt.get(row.event_id);
      const received = receipts.get(`${new URL(row.url).pathname} ${row.event_id}`)?.[0];
      if (committed === undefined || !row.fanned_out_at) continue;
      stages.toFanOut.push(row.fanned_out_at.getTime() - (committed + wallOffset));
      if (row.published_at) stages.toRelayed.push(row.published_at.getTime() - (committed + wallOffset));
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
      backlogReceived: backlogDuringRun,
      warmupMaxMs,
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
  stages: { toFanOut: number; toRelayed: number; toAttempt: number; toReceipt: number; toFanOutP99: number; toAttemptP99: number };
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
      toRelayed: percentile(stage((s) => s.toRelayed), 50),
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
  keepPreloadsToThisProcess();
  const runStarted = performance.now();
  const postgres = await startPostgres();
  if (!postgres) throw new Error("no PostgreSQL binaries found (pg_ctl and initdb on PATH or under /usr/lib/postgresql)");
  // As `onerouter serve webhooks` runs the room on this database.
  limitHeapGrowth({ databaseUrl: postgres.url });
  // The benchmark stops by itself if a run hangs: every run at its drain
  // timeout plus a minute, then Postgres is stopped and the process exits.
  const runsPlanned = 2 + settings.rounds * (pointSpecs.reduce((n, spec) => n + spec.modes.length, 0) + notifyVariants.length + feedVariants.length);
  // Each run: its offered load, its drain timeout, and a minute for set-up (a backlog to seed) on a busy machine.
  const watchdogMs = runsPlanned * (settings.drainTimeoutMs + settings.steadyMs + 60_000) + 60_000;
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

const deliveriesOf = (spec: PointSpec) =>
  spec.rate === undefined ? settings.burstDeliveries : Math.round((spec.rate * settings.steadyMs) / 1000);

// One event in a transaction of its own, as a state change commits it.
function commitBenchEvent(knex: Knex, tenantId: string) {
  return knex.transaction((trx) =>
    appendEvent(trx, {
      type: EventType.PAYMENT_SUCCEEDED,
      tenantId,
      environment: Environment.TEST,
      data: { case: "test", value: { message: "webhooks benchmark" } },
    }),
  );
}

// The CPU of `runs` per unit (commit, event): `units` is how many they made together.
function cpuPer(runs: readonly { cpuMs: { process: number; postgres: number } }[], units: number): { process: number; postgres: number } {
  return {
    process: runs.reduce((n, r) => n + r.cpuMs.process, 0) / units,
    postgres: runs.reduce((n, r) => n + r.cpuMs.postgres, 0) / units,
  };
}

// Committing events with and without the outbox's NOTIFY trigger.
type NotifyVariant = "with NOTIFY" | "without NOTIFY";
const notifyVariants: NotifyVariant[] = ["with NOTIFY", "without NOTIFY"];

interface NotifyRun {
  variant: NotifyVariant;
  commits: number;
  elapsedMs: number;
  latenciesMs: number[];
  cpuMs: { process: number; postgres: number };
}

// One event per transaction by the committers as fast as they go, with a
// connection LISTENing as a server's would, on a fresh database; without
// NOTIFY the trigger is dropped first. Nothing else runs, so the difference
// is what the trigger (and delivering its notification) costs per commit.
async function notifyRun(cluster: Cluster, variant: NotifyVariant): Promise<NotifyRun> {
  const url = await freshDatabase(cluster);
  const db = openDatabase({ databaseUrl: url, poolMax: settings.committers });
  const logger = countingLogger(new Map());
  let heard = 0;
  const listening = listenForCommits(db.knex, outboxNotifyChannel, () => (heard += 1), logger);
  try {
    if (variant === "without NOTIFY") await db.knex.raw("drop trigger outbox_events_notify on outbox_events");
    const tenantId = await insertTenant(db.knex);
    const commitOne = async () => {
      const started = performance.now();
      await commitBenchEvent(db.knex, tenantId);
      return performance.now() - started;
    };
    // Connections opened and the listener heard once before timing.
    await Promise.all(Array.from({ length: settings.committers }, commitOne));
    await waitUntil(() => heard > 0 || variant === "without NOTIFY", 5000);
    const latenciesMs: number[] = [];
    let next = 0;
    const own = process.cpuUsage();
    const postgresBefore = processCpuMs(cluster.postmaster, true);
    const startedAt = performance.now();
    await Promise.all(
      Array.from({ length: settings.committers }, async () => {
        while (next < settings.notifyCommits) {
          next += 1;
          latenciesMs.push(await commitOne());
        }
      }),
    );
    const elapsedMs = performance.now() - startedAt;
    const spent = process.cpuUsage(own);
    return {
      variant,
      commits: latenciesMs.length,
      elapsedMs,
      latenciesMs,
      cpuMs: { process: (spent.user + spent.system) / 1000, postgres: processCpuMs(cluster.postmaster, true) - postgresBefore },
    };
  } finally {
    await listening.close();
    await db.close();
  }
}

// The outbox feed off and on while events are committed one at a time,
// paced, as at low load: each commit then wakes a pass of its own, so the
// difference is what a pass costs per event (no endpoints, so the pass
// claims, marks and copies the event and owes nothing).
type FeedVariant = "feed off" | "feed on";
const feedVariants: FeedVariant[] = ["feed off", "feed on"];

interface FeedRun {
  variant: FeedVariant;
  events: number;
  cpuMs: { process: number; postgres: number };
}

async function feedRun(cluster: Cluster, variant: FeedVariant): Promise<FeedRun> {
  const url = await freshDatabase(cluster);
  const db = openDatabase({ databaseUrl: url, poolMax: 2 });
  const feed = new OutboxFeed(db.knex, countingLogger(new Map()));
  try {
    const tenantId = await insertTenant(db.knex);
    const commitOne = () => commitBenchEvent(db.knex, tenantId);
    if (variant === "feed on") await feed.start({ wake() {} });
    const unfanned = async () => Number(((await db.knex("outbox_events").whereNull("fanned_out_at").count("* as n").first()) as { n: string | number }).n);
    // The connections opened, and the feed's first pass over, before timing.
    await commitOne();
    await sleep(200);
    const own = process.cpuUsage();
    const postgresBefore = processCpuMs(cluster.postmaster, true);
    for (let i = 0; i < settings.feedEvents; i++) {
      await commitOne();
      await sleep(feedPaceMs);
    }
    if (variant === "feed on") {
      const deadline = performance.now() + 5000;
      while ((await unfanned()) > 0 && performance.now() < deadline) await sleep(10);
    }
    const spent = process.cpuUsage(own);
    const postgres = processCpuMs(cluster.postmaster, true) - postgresBefore;
    if (variant === "feed on" && (await unfanned()) > 0) throw new Error("the outbox feed left events unfanned");
    return { variant, events: settings.feedEvents, cpuMs: { process: (spent.user + spent.system) / 1000, postgres } };
  } finally {
    await feed.stop();
    await db.close();
  }
}

// Each variant once a round, which goes first alternating from round to
// round, each run told on stderr as it ends.
async function alternatingRuns<Variant, Run>(variants: readonly Variant[], run: (variant: Variant) => Promise<Run>, told: (run: Run) => string): Promise<Run[]> {
  const runs: Run[] = [];
  for (let round = 0; round < settings.rounds; round++) {
    for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
      const done = await run(variant);
      runs.push(done);
      console.error(`round ${round + 1}/${settings.rounds} ${told(done)}`);
    }
  }
  return runs;
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition() && performance.now() < deadline) await sleep(10);
}

async function measure(cluster: Cluster, runStarted: number) {
  const warmup: PointSpec = { workload: "burst", endpoints: 1, modes };
  for (const mode of modes) await runOnce(cluster, mode, warmup, warmupDeliveries);

  const loadBefore = os.loadavg()[0]!;
  const memory = watchMemory();
  const runs: Run[] = [];
  const profile = await profileOf(async () => {
    for (let round = 0; round < settings.rounds; round++) {
      for (const [pointIndex, spec] of pointSpecs.entries()) {
        // Alternate which mode goes first, by point and by round, so neither always follows the other.
        const order = (round + pointIndex) % 2 === 0 ? spec.modes : [...spec.modes].reverse();
        for (const mode of order) {
          const run = await runOnce(cluster, mode, spec, deliveriesOf(spec));
          runs.push(run);
          console.error(
            `round ${round + 1}/${settings.rounds} ${spec.workload} ×${spec.endpoints} ${mode}: ${run.received}/${run.expected} received, p50 ${ms(median(run.latenciesMs))} ms, p99 ${ms(percentile(ascending(run.latenciesMs), 99))} ms, ${((run.received / run.elapsedMs) * 1000).toFixed(0)} deliveries/s; p50 commit → relayed ${ms(median(run.stages.toRelayed))} ms, → fan-out ${ms(median(run.stages.toFanOut))} ms, → attempt ${ms(median(run.stages.toAttempt))} ms, → receipt ${ms(median(run.stages.toReceipt))} ms`,
          );
        }
      }
    }
  });
  const notifyRuns =
    settings.notifyCommits > 0
      ? await alternatingRuns(notifyVariants, (variant) => notifyRun(cluster, variant), (run) =>
          `commits ${run.variant}: ${((run.commits / run.elapsedMs) * 1000).toFixed(0)} commits/s, p50 ${ms(median(run.latenciesMs))} ms, Postgres ${ms(run.cpuMs.postgres / run.commits)} ms CPU per commit`,
        )
      : [];
  const feedRuns =
    settings.feedEvents > 0
      ? await alternatingRuns(feedVariants, (variant) => feedRun(cluster, variant), (run) =>
          `paced commits, ${run.variant}: ${ms(run.cpuMs.process / run.events)} ms of this process's CPU and ${ms(run.cpuMs.postgres / run.events)} ms of Postgres's per event`,
        )
      : [];
  const loadAfter = os.loadavg()[0]!;
  const memoryPeak = memory.stop();

  const points = pointSpecs.flatMap((spec) =>
    spec.modes.map((mode) => summarize(runs.filter((r) => r.workload === spec.workload && r.endpoints === spec.endpoints && r.mode === mode))),
  );
  const input: ReportInput = {
    points,
    loadBefore,
    loadAfter,
    postgresVersion: cluster.postgresVersion,
    natsVersion: natsServerVersion(),
    runSeconds: (performance.now() - runStarted) / 1000,
    memoryPeak,
    heapGrowingPercent: heapGrowingPercent({ databaseUrl: cluster.postgres.url }),
    profile: topSelfTime(profile, 15),
    notifyRuns,
    feedRuns,
  };
  const targets = targetRows(input);
  writeFileSync(chartFile, renderChart(targets));
  const report = renderReport(input, targets);
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
  notifyRuns: NotifyRun[];
  feedRuns: FeedRun[];
  loadBefore: number;
  loadAfter: number;
  postgresVersion: string;
  natsVersion: string;
  runSeconds: number;
  // This process's memory at its highest RSS through the timed rounds.
  memoryPeak: NodeJS.MemoryUsage;
  // As limitHeapGrowth set it.
  heapGrowingPercent: number;
  // The process's busiest functions over the timed rounds.
  profile: ProfileEntry[];
}

// One target of the issue as measured: met when value is on the right side of limit.
interface TargetRow {
  target: string;
  mode: Mode | "–";
  measured: number;
  limit: number;
  atLeast: boolean;
  unit: string;
}

const met = (t: TargetRow) => !Number.isNaN(t.measured) && (t.atLeast ? t.measured >= t.limit : t.measured <= t.limit);

// The slowest delivery of any run's warm-up: what a fresh room's first deliveries cost.
function slowestWarmup(points: Point[]): string {
  let slowest: { ms: number; point: Point } | undefined;
  for (const point of points) {
    for (const run of point.runs) if (!slowest || run.warmupMaxMs > slowest.ms) slowest = { ms: run.warmupMaxMs, point };
  }
  if (!slowest) return "";
  const { ms: max, point } = slowest;
  return `The slowest warm-up delivery of any run took ${ms(max)} ms from commit to receipt (${point.workload}, ${point.endpoints} endpoint(s), ${point.mode}).`;
}

function findPoint(points: Point[], workload: Workload, endpoints: number, mode: Mode): Point | undefined {
  return points.find((p) => p.workload === workload && p.endpoints === endpoints && p.mode === mode);
}

// Milliseconds per claim statement of a point, over its rounds.
function claimMs(point: Point | undefined): number {
  const claim = point && sqlByKind(point).get("claim webhook_deliveries");
  return claim && claim.count > 0 ? claim.ms / claim.count : Number.NaN;
}

function targetRows(input: ReportInput): TargetRow[] {
  const rows: TargetRow[] = [];
  const { points } = input;
  for (const mode of modes) {
    const burst = findPoint(points, "burst", 10, mode);
    rows.push({ target: "Burst to 10 endpoints, deliveries/s", mode, measured: burst?.deliveriesPerSecond ?? Number.NaN, limit: 1000, atLeast: true, unit: "/s" });
  }
  for (const mode of modes) {
    const offered = findPoint(points, "offered", 10, mode);
    // Sustained: every delivery arrives and the rate keeps within 5 % of what is offered.
    const rate = offered && offered.received === offered.expected ? offered.deliveriesPerSecond : Number.NaN;
    rows.push({ target: `${settings.offeredRate}/s offered to 10 endpoints, deliveries/s`, mode, measured: rate, limit: settings.offeredRate * 0.95, atLeast: true, unit: "/s" });
  }
  for (const mode of modes) {
    const steady = findPoint(points, "steady", 1, mode);
    rows.push({ target: `${settings.latencyRate}/s, commit → receipt p50`, mode, measured: steady?.p50 ?? Number.NaN, limit: 20, atLeast: false, unit: " ms" });
    rows.push({ target: `${settings.latencyRate}/s, commit → receipt p99`, mode, measured: steady?.p99 ?? Number.NaN, limit: 250, atLeast: false, unit: " ms" });
  }
  const baseline = findPoint(points, "steady", 10, "embedded");
  const backlog = findPoint(points, "backlog", 10, "embedded");
  const backlogText = `Backlog of ${settings.backlog.toLocaleString("en")} at one endpoint`;
  rows.push({ target: `${backlogText}: claim time ÷ without`, mode: "embedded", measured: claimMs(backlog) / claimMs(baseline), limit: 2, atLeast: false, unit: "×" });
  // "Not slower": the other endpoints' latency within 1.5× of the same load without the backlog.
  rows.push({ target: `${backlogText}: others' p50 ÷ without`, mode: "embedded", measured: (backlog?.p50 ?? Number.NaN) / (baseline?.p50 ?? Number.NaN), limit: 1.5, atLeast: false, unit: "×" });
  rows.push({ target: `${backlogText}: others' p99 ÷ without`, mode: "embedded", measured: (backlog?.p99 ?? Number.NaN) / (baseline?.p99 ?? Number.NaN), limit: 1.5, atLeast: false, unit: "×" });
  return rows;
}

const formatTarget = (v: number, unit: string) => (Number.isNaN(v) ? "–" : unit === "×" ? `${v.toFixed(2)}×` : unit === "/s" ? `${v.toFixed(0)}/s` : `${ms(v)} ms`);

// Every target as measured ÷ target on one axis (headroom where the target is
// a ceiling, so right of 1 is met either way), rendered from an SVG.
function renderChart(targets: TargetRow[]): Buffer {
  const rowHeight = 26;
  const labelWidth = 640;
  const barWidth = 360;
  const top = 50;
  const height = top + targets.length * rowHeight + 40;
  const width = labelWidth + barWidth + 90;
  const maxScale = 4;
  const x = (v: number) => labelWidth + (Math.min(Math.max(v, 0), maxScale) / maxScale) * barWidth;
  const escape = (text: string) => text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">Webhooks: each target, measured ÷ target (ceilings inverted: right of 1 is met)</text>`,
  ];
  targets.forEach((t, i) => {
    const y = top + i * rowHeight;
    const score = Number.isNaN(t.measured) ? 0 : t.atLeast ? t.measured / t.limit : t.limit / Math.max(t.measured, 1e-9);
    parts.push(`<text x="10" y="${y + 16}">${escape(`${t.target} (${t.mode})`)}</text>`);
    parts.push(`<rect x="${labelWidth}" y="${y + 4}" width="${Math.max(x(score) - labelWidth, 1)}" height="${rowHeight - 8}" fill="${met(t) ? "#2e8b57" : "#c0392b"}"/>`);
    parts.push(`<text x="${x(score) + 4}" y="${y + 16}">${escape(formatTarget(t.measured, t.unit))}</text>`);
  });
  const axisY = top + targets.length * rowHeight + 4;
  for (let tick = 0; tick <= maxScale; tick++) {
    parts.push(`<line x1="${x(tick)}" y1="${top}" x2="${x(tick)}" y2="${axisY}" stroke="${tick === 1 ? "black" : "#ccc"}" stroke-width="${tick === 1 ? 2 : 1}"/>`);
    parts.push(`<text x="${x(tick) - 4}" y="${axisY + 16}">${tick}${tick === maxScale ? "+" : ""}</text>`);
  }
  parts.push("</svg>");
  return new Resvg(parts.join(""), { font: { loadSystemFonts: true } }).render().asPng();
}

function renderReport(input: ReportInput, targets: TargetRow[]): string {
  const { points } = input;
  const cpus = os.cpus();
  const config = webhookConfig().webhookDelivery;
  const lines: string[] = [];
  const out = (...text: string[]) => lines.push(...text);

  out(
    "# Webhooks benchmark",
    "",
    `Generated by \`npm run bench:webhooks\` (bench/webhooks/run.ts) on ${new Date().toISOString()}; each run overwrites this file and chart.png.`,
    "",
    "## Targets",
    "",
    "| Target | Mode | Measured | Target | Met |",
    "|---|---|---:|---:|---|",
    ...targets.map((t) => `| ${t.target} | ${t.mode} | ${formatTarget(t.measured, t.unit)} | ${t.atLeast ? "≥" : "≤"} ${formatTarget(t.limit, t.unit)} | ${met(t) ? "yes" : "**no**"} |`),
    "",
    "![Each target, measured against it](chart.png)",
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
    `- This process's RSS (webhooks room, relay, committers and receiver) through the timed rounds: ${mebibytes(input.memoryPeak.rss)} at most; then ${memoryParts(input.memoryPeak)}. The process: ${processDescription("bench:webhooks", input.heapGrowingPercent)}.`,
    "",
    "## Setup",
    "",
    `Everything but Postgres and nats-server runs in this one process: the committers, the webhooks room as \`createWebhooks\` starts it with core's \`OutboxRelay\`, and the receiver (\`startReceiver\`, answering 204 at once), all on 127.0.0.1 and sharing the ${cpus.length} cores with Postgres and NATS.`,
    "",
    "- **Embedded**: no event stream; the outbox feed is woken by each commit that adds events (through Postgres NOTIFY, this process's commits included) and claims unfanned outbox rows (FOR UPDATE SKIP LOCKED, 100 per batch); it polls only every 2 s as a safety net.",
    "- **JetStream**: `connectEventStream`; the outbox relay is woken the same way, publishes the new rows to JetStream and marks them published in one statement; the JetStream feed's consume loop fans out on arrival.",
    `- Delivery worker in both: the product's settings — concurrency ${config.concurrency}, ${config.endpointConcurrency} in flight per endpoint, woken at once by a fan-out and by each answer from an endpoint, whose slot is free from then while the attempt is recorded in a batch; an endpoint whose deliveries are claimed more than ${config.behindAfterMs} ms after they were due has a backlog, held to ${config.backlogRate} deliveries/s while other endpoints' deliveries go out on time (poll every ${config.pollMs} ms for retries), HTTP timeout ${config.timeoutMs} ms, connections kept alive per endpoint origin — with 127.0.0.0/8 allowed.`,
    `- Every run: a fresh database copied from one migrated with every room's migrations, one tenant, its endpoints (each owed every event) pointing at the receiver, the dispatcher on its own pool of 10 connections and the committers on another of ${settings.committers}. Before its timed commits, a warm-up: ${runWarmupEvents} events, one every ${runWarmupPaceMs} ms, committed and delivered unrecorded, since a fresh pool's first statements open its connections and prepare its statements. ${slowestWarmup(input.points)}`,
    `- **Burst**: ${settings.burstDeliveries} deliveries' worth of events to 10 endpoints, committed one event per transaction by ${settings.committers} concurrent committers as fast as they go.`,
    `- **Offered**: ${settings.offeredRate} deliveries/s to 10 endpoints for ${settings.steadyMs} ms, open loop: one event per transaction started on a fixed schedule whether or not earlier ones have committed.`,
    `- **Steady**: ${settings.latencyRate} deliveries/s, open loop likewise, to 1 endpoint (both modes) and to 10 (embedded, the backlog's comparison).`,
    `- **Backlog**: the 10-endpoint steady load while an endpoint of another tenant is owed ${settings.backlog.toLocaleString("en")} deliveries, all due, seeded before the run; it drains beside the load (its receipts are counted apart).`,
    "",
    `Commit time is when the event's transaction resolved in the committer; receipt is when the receiver had the whole request, in the same process and clock. Deliveries/s is deliveries received over first commit to last receipt; in the offered and steady runs it is bounded by the offered rate, and "last commit → last receipt" shows whether delivery kept up (close to the latency) or fell behind (growing with the run). Schedule: one unrecorded ${warmupDeliveries}-delivery burst per mode, then ${settings.rounds} round(s) of every point, the mode going first alternating from point to point and round to round. A run waits up to ${settings.drainTimeoutMs} ms after its last commit for every delivery, then ${duplicateWatchMs} ms more for repeats. CPU is user + system time per delivery received, from /proc in 10 ms ticks, over commit start to the end of the run.`,
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
  const backlogPoint = findPoint(points, "backlog", 10, "embedded");
  if (backlogPoint) {
    const drained = backlogPoint.runs.reduce((n, r) => n + r.backlogReceived, 0);
    const seconds = backlogPoint.runs.reduce((n, r) => n + r.elapsedMs, 0) / 1000;
    out(
      "",
      `Meanwhile the backlogged endpoint received ${drained} deliveries in ${seconds.toFixed(1)} s of backlog runs (${rate(drained / seconds)}/s, at most ${config.endpointConcurrency} in flight, held to ${config.backlogRate}/s while the others' deliveries were on time); a claim took ${ms(claimMs(backlogPoint))} ms against ${ms(claimMs(findPoint(points, "steady", 10, "embedded")))} ms without the backlog.`,
    );
  }

  if (input.notifyRuns.length > 0) out("", ...notifyCostSection(input.notifyRuns));
  if (input.feedRuns.length > 0) out("", ...feedCostSection(input.feedRuns));

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
  for (const spec of pointSpecs.filter((s) => s.modes.length === modes.length)) {
    const embedded = findPoint(points, spec.workload, spec.endpoints, "embedded")!;
    const jetstream = findPoint(points, spec.workload, spec.endpoints, "jetstream")!;
    out(
      `| ${spec.workload} | ${spec.endpoints} | ${ratio(jetstream.p50, embedded.p50)} | ${ratio(jetstream.p99, embedded.p99)} | ${ratio(jetstream.deliveriesPerSecond, embedded.deliveriesPerSecond)} |`,
    );
  }

  out(
    "",
    "## Where a delivery's time goes",
    "",
    "From each delivery's first attempt row and its creation by the fan-out, against the recorded commit and receipt (millisecond timestamps): commit → fan-out is the feed's pick-up (woken by the commit in embedded mode; relay, publish and JetStream consume in JetStream mode, then the fan-out), of which commit → relayed is the relay's part in JetStream mode (claim, publish, JetStream's acknowledgement, marking the rows published); fan-out → attempt covers the fan-out's commit, the worker's wake-up, its claim and the wait for a free slot under the per-endpoint bound; attempt → receipt is signing plus one HTTP POST on a kept-alive connection.",
    "",
    "| Workload | Endpoints | Mode | Commit → relayed p50 | Commit → fan-out p50 | p99 | Fan-out → attempt p50 | p99 | Attempt → receipt p50 |",
    "|---|---:|---|---:|---:|---:|---:|---:|---:|",
  );
  for (const p of points) {
    out(
      `| ${p.workload} | ${p.endpoints} | ${p.mode} | ${ms(p.stages.toRelayed)} | ${ms(p.stages.toFanOut)} | ${ms(p.stages.toFanOutP99)} | ${ms(p.stages.toAttempt)} | ${ms(p.stages.toAttemptP99)} | ${ms(p.stages.toReceipt)} |`,
    );
  }

  const burstEmbedded = findPoint(points, "burst", 10, "embedded");
  const burstJetStream = findPoint(points, "burst", 10, "jetstream");
  // A run limited by BENCH_POINTS may leave the burst out.
  if (burstEmbedded && burstJetStream) {
    const burst = { embedded: burstEmbedded, jetstream: burstJetStream };
    const burstSql = { embedded: sqlByKind(burst.embedded), jetstream: sqlByKind(burst.jetstream) };
    out(
      "",
      "## The dispatcher's SQL, burst at 10 endpoints",
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
        const received = burst[mode].received;
        const each = entry.count === 0 ? Number.NaN : entry.ms / entry.count;
        return `${(entry.count / received).toFixed(2)} | ${timed ? ms(entry.ms / received) : "–"} | ${timed ? ms(each) : "–"}`;
      });
      out(`| ${kind} | ${cells.join(" | ")} |`);
    }
  }

  out(
    "",
    "## Profile",
    "",
    "This process (committers, room, receiver) profiled over the timed rounds with the inspector (what `node --cpu-prof` records), its busiest functions by self time:",
    "",
    ...profileTable(input.profile),
    "",
  );
  if (existsSync(profileBeforeFile)) out(readFileSync(profileBeforeFile, "utf8").trim(), "");

  out("## Interpretation", "", interpretation(input, targets), "");
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

function interpretation(input: ReportInput, targets: TargetRow[]): string {
  const cores = os.cpus().length;
  const missed = targets.filter((t) => !met(t));
  const metText =
    missed.length === 0
      ? `Every target is met in this run.`
      : `${targets.length - missed.length} of ${targets.length} targets are met in this run; not met: ${missed.map((t) => `${t.target} (${t.mode}: ${formatTarget(t.measured, t.unit)})`).join("; ")}.`;
  const busy = Math.max(input.loadBefore, input.loadAfter) > cores;
  const loadText = busy
    ? `Other work kept the load average at ${input.loadBefore.toFixed(1)} before and ${input.loadAfter.toFixed(1)} after the rounds on ${cores} cores, so the rates and latencies reflect the CPU share this run could get, not the code's ceiling; the per-delivery CPU columns are the steadier measure.`
    : `The load average was ${input.loadBefore.toFixed(1)} before and ${input.loadAfter.toFixed(1)} after the rounds on ${cores} cores.`;
  const steady = (mode: Mode) => findPoint(input.points, "steady", 1, mode);
  const pickUp = modes.map((mode) => `${ms(steady(mode)?.stages.toFanOut ?? Number.NaN)} ms ${mode}`).join(" and ");
  const top = input.profile.slice(0, 3).map((e) => `\`${e.name}\` (${(e.share * 100).toFixed(0)} %)`).join(", ");
  return [
    metText,
    `At ${settings.latencyRate}/s to one endpoint the feed's pick-up (commit → fan-out) takes ${pickUp} at p50, woken by the commit rather than a poll.`,
    `The busiest functions in this process were ${top}.`,
    loadText,
    describeWarnings(input.points),
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

// The NOTIFY comparison: each variant over its rounds, then the difference per commit.
function notifyCostSection(runs: NotifyRun[]): string[] {
  const summary = (variant: NotifyVariant) => {
    const of = runs.filter((r) => r.variant === variant);
    const commits = of.reduce((n, r) => n + r.commits, 0);
    const latencies = ascending(of.flatMap((r) => r.latenciesMs));
    return {
      variant,
      rate: (commits / of.reduce((n, r) => n + r.elapsedMs, 0)) * 1000,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      ...cpuPer(of, commits),
    };
  };
  const [withNotify, withoutNotify] = notifyVariants.map(summary) as [ReturnType<typeof summary>, ReturnType<typeof summary>];
  const lines = [
    "## What NOTIFY costs per committed event",
    "",
    `The outbox's commit notification (a statement-level trigger calling pg_notify, delivered at commit to a listening connection) on and off: ${settings.notifyCommits} events per run, one per transaction, by ${settings.committers} concurrent committers as fast as they go, nothing else running; ${runs.length / 2} run(s) each, alternating.`,
    "",
    "| Variant | Commits/s | Commit p50 ms | Commit p99 ms | Postgres CPU ms per commit | This process's CPU ms per commit |",
    "|---|---:|---:|---:|---:|---:|",
  ];
  for (const v of [withNotify, withoutNotify]) {
    lines.push(`| ${v.variant} | ${rate(v.rate)} | ${ms(v.p50)} | ${ms(v.p99)} | ${ms(v.postgres)} | ${ms(v.process)} |`);
  }
  lines.push(
    `| with ÷ without | ${ratio(withNotify.rate, withoutNotify.rate)} | ${ratio(withNotify.p50, withoutNotify.p50)} | ${ratio(withNotify.p99, withoutNotify.p99)} | ${ratio(withNotify.postgres, withoutNotify.postgres)} | ${ratio(withNotify.process, withoutNotify.process)} |`,
    "",
    `NOTIFY adds ${ms(withNotify.p50 - withoutNotify.p50)} ms to a commit at p50 and ${ms(withNotify.postgres - withoutNotify.postgres)} ms of Postgres CPU per committed event.`,
  );
  return lines;
}

// The low-load feed comparison: each variant over its rounds, then the
// difference per event.
function feedCostSection(runs: FeedRun[]): string[] {
  const summary = (variant: FeedVariant) => {
    const of = runs.filter((r) => r.variant === variant);
    return { variant, ...cpuPer(of, of.reduce((n, r) => n + r.events, 0)) };
  };
  const [off, on] = feedVariants.map(summary) as [ReturnType<typeof summary>, ReturnType<typeof summary>];
  const lines = [
    "## What the outbox feed costs per event at low load",
    "",
    `Embedded mode's outbox feed off and on while ${settings.feedEvents} events per run are committed one per transaction, one every ${feedPaceMs} ms, by one committer, to a tenant with no endpoints; nothing else runs. At that pace each commit wakes a pass of its own (its NOTIFY heard, one statement), as a payment's two commits each do at low load. ${runs.length / 2} run(s) each, alternating.`,
    "",
    "| Variant | This process's CPU ms per event | Postgres CPU ms per event |",
    "|---|---:|---:|",
  ];
  for (const v of [off, on]) lines.push(`| ${v.variant} | ${ms(v.process)} | ${ms(v.postgres)} |`);
  lines.push("", `A pass adds ${ms(on.process - off.process)} ms of this process's CPU and ${ms(on.postgres - off.postgres)} ms of Postgres's per event.`);
  return lines;
}
