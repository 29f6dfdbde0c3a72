import { execFileSync } from "node:child_process";
import diagnostics from "node:diagnostics_channel";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { Session } from "node:inspector/promises";
import os from "node:os";
import path from "node:path";
import { constants, monitorEventLoopDelay, performance, PerformanceObserver, type EventLoopUtilization } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Resvg } from "@resvg/resvg-js";
import type { ReadableSpan, SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { createApiKey } from "@onerouter/admin";
import { inboundWebhookPath, ProviderOutbound } from "@onerouter/routing";
import { newId, startTracing, type MainThreadCost, type MainThreadStretches } from "@onerouter/core";
import { sandboxConnector } from "@onerouter/payments";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { heapGrowingPercent, type OneRouter } from "@onerouter/server";
import { traceRequestSql, type SqlTrace } from "@onerouter/server/testing";
import { startPostgres } from "../../test/infra";
import { IpcChild, keepPreloadsToThisProcess, mebibytes as mb, median, memoryParts, ms, percentile, processDescription, procStat, ratio, watchMemory, wholeNumber, wholeNumberList } from "../common";
import { sourceOf } from "../cpu-profile";
import { runBenchmark, startBenchApp } from "../postgres-app";
import { readStatementStats, resetStatementStats, type StatementCost } from "../postgres-statements";
import { workloadNames, type LoadReply, type LoadRequest, type SliceResult, type WorkloadName } from "./protocol";

// CreatePayment on the sandbox provider with real Postgres, side by side
// with an authenticated no-op Connect call on the same server and with the
// sandbox connector called directly. OneRouter runs in this process; the
// load generator runs in another (load.ts) and the sandbox provider in a
// third (sandbox.ts), so this process's CPU is the platform's and a direct
// call crosses a process boundary as the platform's call does. Each
// workload is measured closed-loop at concurrency 1 and at a high
// concurrency, and open-loop at fixed offered rates below capacity; the
// workloads take turns in short slices, round after round, so the
// machine's noise falls on all of them alike. Writes
// REPORT.md and chart.png next to this file and prints the Markdown.
//
// Knobs (environment): BENCH_HIGH_CONCURRENCY (50), BENCH_RATE_PERCENTS
// (25,50: offered rates as percentages of CreatePayment's closed-loop
// capacity in the warm-up), BENCH_ROUNDS (3), BENCH_SLICE_MS (2000),
// BENCH_SLICE_MAX_REQUESTS (5000), BENCH_WARMUP_MS (2000), BENCH_SETTLE_MS
// (250), BENCH_SQL_PROBES (20), BENCH_ENGINE (postgres, or embedded: the
// server on a PGlite data folder as `npm start` runs it, reported in
// REPORT-embedded.md and chart-embedded.png with its event loop's delays),
// BENCH_CPU_PROFILE and BENCH_HEAP_PROFILE (files to write the profiled
// slice's CPU profile and sampled allocations to).

const settings = {
  highConcurrency: wholeNumber("BENCH_HIGH_CONCURRENCY", 50, 2),
  ratePercents: wholeNumberList("BENCH_RATE_PERCENTS", "25,50", 1, 100),
  rounds: wholeNumber("BENCH_ROUNDS", 3, 1),
  // Each workload runs this long at each load in each round...
  sliceMs: wholeNumber("BENCH_SLICE_MS", 2000, 100),
  // ...or until it has sent this many requests, whichever comes first.
  sliceMaxRequests: wholeNumber("BENCH_SLICE_MAX_REQUESTS", 5000, 1),
  // Unrecorded slices per workload at the high concurrency, to warm JIT,
  // pools and caches and to find CreatePayment's capacity.
  warmupMs: wholeNumber("BENCH_WARMUP_MS", 2000, 100),
  // Pause after each slice, so the sandbox's webhooks and the outbox
  // dispatcher catch up on the work of one slice before the next is timed.
  settleMs: wholeNumber("BENCH_SETTLE_MS", 250, 0),
  // Sequential calls of each Connect workload whose SQL is traced, after the timed rounds.
  probes: wholeNumber("BENCH_SQL_PROBES", 20, 1),
  engine: benchEngine(),
  // Where to keep the profiled slice's whole CPU profile (a .cpuprofile for
  // DevTools or bench/cpu-profile.ts), to see who calls a costly function.
  cpuProfileFile: process.env.BENCH_CPU_PROFILE,
  // Where to keep the same slice's sampled allocations (a .heapprofile): what allocates, by call stack.
  heapProfileFile: process.env.BENCH_HEAP_PROFILE,
};

function benchEngine(): "postgres" | "embedded" {
  const raw = process.env.BENCH_ENGINE ?? "postgres";
  if (raw !== "postgres" && raw !== "embedded") throw new Error(`BENCH_ENGINE must be postgres or embedded (got "${raw}")`);
  return raw;
}

const rateLimitRps = 1_000_000;
const here = path.dirname(fileURLToPath(import.meta.url));
const embedded = settings.engine === "embedded";
const reportFile = path.join(here, embedded ? "REPORT-embedded.md" : "REPORT.md");
const chartFile = path.join(here, embedded ? "chart-embedded.png" : "chart.png");

// One way of loading the server: closed loop at a concurrency, or open loop at a rate.
interface Load {
  label: string;
  concurrency: number;
  rate?: number;
}

// The server's event loop through the timed rounds, and each embedded
// database call's wall time (for PGlite in the main thread, time the loop
// stood still; for PGlite in a worker, time the loop was free meanwhile).
interface LoopWatch {
  delayP99Ms: number;
  delayMaxMs: number;
  longestDatabaseCallMs: number;
  databaseCalls: number;
  // The main thread's own part of the database calls (PGliteThread's
  // takeMainThreadCost): each stretch the loop stands still to hand a call
  // to PGlite's thread or to read its answer.
  databaseHold: MainThreadCost;
  // The main thread's garbage collections: each stops the loop for its whole
  // duration, so a delay near the longest of them is the collector's.
  longestGcMs: number;
  // Scavenge (the young generation), mark-compact (the whole heap) or another of Node's kinds.
  longestGcKind: string;
  gcPauses: number;
  gcPausesOver5Ms: number;
  // Each of them, to find the ones that fell within a call.
  gcPauseList: GcPause[];
}

// A garbage collection in the server's main thread, on the clock the load
// generator times its calls by (milliseconds since the epoch).
interface GcPause {
  startedAtMs: number;
  ms: number;
  kind: string;
}

function watchLoop(app: OneRouter): { stop(): LoopWatch } {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const connection = embedded
    ? (app.db.knex.client as { pglite: { query: (...args: unknown[]) => Promise<unknown>; takeMainThreadCost(): MainThreadCost; countTimeOnCpu(): void } }).pglite
    : undefined;
  // Each stretch split into time on a core and time waiting for one; also starts the count afresh.
  connection?.countTimeOnCpu();
  const query = connection?.query;
  let longest = 0;
  let calls = 0;
  const gc = { longestMs: 0, longestKind: "none", pauses: 0, over5Ms: 0, list: [] as GcPause[] };
  const gcKinds: Record<number, string> = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: "scavenge",
    [constants.NODE_PERFORMANCE_GC_MAJOR]: "mark-compact",
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental marking",
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: "weak callbacks",
  };
  const gcObserver = new PerformanceObserver((entries) => {
    for (const entry of entries.getEntries()) {
      const kindNumber = (entry as unknown as { detail?: { kind?: number } }).detail?.kind ?? -1;
      const kind = gcKinds[kindNumber] ?? `kind ${kindNumber}`;
      gc.list.push({ startedAtMs: performance.timeOrigin + entry.startTime, ms: entry.duration, kind });
      gc.pauses += 1;
      if (entry.duration > 5) gc.over5Ms += 1;
      if (entry.duration <= gc.longestMs) continue;
      gc.longestMs = entry.duration;
      gc.longestKind = kind;
    }
  });
  gcObserver.observe({ entryTypes: ["gc"] });
  if (connection && query) {
    connection.query = async (...args: unknown[]) => {
      const started = performance.now();
      try {
        return await query.apply(connection, args);
      } finally {
        calls += 1;
        longest = Math.max(longest, performance.now() - started);
      }
    };
  }
  return {
    stop() {
      delay.disable();
      gcObserver.disconnect();
      if (connection && query) connection.query = query;
      const none = { count: 0, longestMs: 0, totalMs: 0 };
      const databaseHold = connection?.takeMainThreadCost() ?? { handing: none, reading: none };
      return {
        delayP99Ms: delay.percentile(99) / 1e6,
        delayMaxMs: delay.max / 1e6,
        longestDatabaseCallMs: longest,
        databaseCalls: calls,
        databaseHold,
        longestGcMs: gc.longestMs,
        longestGcKind: gc.longestKind,
        gcPauses: gc.pauses,
        gcPausesOver5Ms: gc.over5Ms,
        gcPauseList: gc.list,
      };
    },
  };
}

interface Slice extends SliceResult {
  serverCpuMs: number;
  postgresCpuMs: number;
  mainThread: MainThreadReading;
}

// The server's main thread, which runs all of the platform's JavaScript,
// so far or over a slice: its time on a core and its time runnable but
// waiting for one (Linux's scheduler statistics of this process's main
// thread), its event loop's busy and idle time, and the machine's idle and
// total core time (/proc/stat). NaN where there is no /proc.
interface MainThreadReading {
  onCoreMs: number;
  waitedMs: number;
  loop: EventLoopUtilization;
  idleTicks: number;
  allTicks: number;
}

function readMainThread(): MainThreadReading {
  const loop = performance.eventLoopUtilization();
  try {
    // Read from the main thread, so thread-self is the main thread.
    const [onCoreNs, waitedNs] = readFileSync("/proc/thread-self/schedstat", "utf8").split(" ").map(Number) as [number, number];
    // cpu user nice system idle iowait irq softirq steal …, in ticks.
    const cpu = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { onCoreMs: onCoreNs / 1e6, waitedMs: waitedNs / 1e6, loop, idleTicks: cpu[3]! + cpu[4]!, allTicks: cpu.reduce((a, b) => a + b, 0) };
  } catch {
    return { onCoreMs: Number.NaN, waitedMs: Number.NaN, loop, idleTicks: Number.NaN, allTicks: Number.NaN };
  }
}

function mainThreadSince(start: MainThreadReading): MainThreadReading {
  const end = readMainThread();
  return {
    onCoreMs: end.onCoreMs - start.onCoreMs,
    waitedMs: end.waitedMs - start.waitedMs,
    loop: performance.eventLoopUtilization(end.loop, start.loop),
    idleTicks: end.idleTicks - start.idleTicks,
    allTicks: end.allTicks - start.allTicks,
  };
}

// Reads the CPU time of the Postgres server listening on `port`: its
// postmaster, the postmaster's living children (backends and workers) and,
// through the postmaster's cutime, children that have exited. Linux /proc
// only; elsewhere the reading is NaN and the report shows a dash.
function postgresCpuReader(port: number): () => number {
  const pids = () => (existsSync("/proc") ? readdirSync("/proc").filter((name) => /^\d+$/.test(name)) : []);
  const postmaster = pids().find((pid) => {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      return path.basename(args[0] ?? "") === "postgres" && args.some((arg, i) => arg === "-p" && args[i + 1] === String(port));
    } catch {
      return false;
    }
  });
  if (!postmaster) return () => Number.NaN;
  const ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
  // The postmaster's children from the kernel's list of them where it keeps
  // one: scanning every process on a busy machine costs this process (whose
  // CPU is the platform's) more than the reading is worth.
  const childrenFile = `/proc/${postmaster}/task/${postmaster}/children`;
  const children = existsSync(childrenFile)
    ? () => readFileSync(childrenFile, "utf8").split(" ").filter((pid) => pid.trim() !== "")
    : () => pids().filter((pid) => procStat(pid)?.[1] === postmaster);
  return () => {
    let ticks = 0;
    for (const pid of [postmaster, ...children()]) {
      const fields = procStat(pid);
      if (!fields) continue;
      // From the state field on: ppid is at 1; utime, stime, cutime, cstime at 11 to 14.
      const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number) as [number, number, number, number];
      ticks += pid === postmaster ? utime + stime + cutime + cstime : utime + stime;
    }
    return (ticks * 1000) / ticksPerSecond;
  };
}

// The load generator.
class LoadGenerator {
  private constructor(private readonly ipc: IpcChild<LoadRequest, LoadReply>) {}

  static async start(): Promise<{ load: LoadGenerator; sandboxUrl: string }> {
    const ipc = IpcChild.fork<LoadRequest, LoadReply>(path.join(here, "load.ts"), "the load generator");
    const ready = await ipc.next();
    if (ready.type !== "ready") throw new Error(`the load generator did not start: ${JSON.stringify(ready)}`);
    return { load: new LoadGenerator(ipc), sandboxUrl: ready.sandboxUrl };
  }

  async ask<T extends LoadReply["type"]>(request: LoadRequest, expected: T): Promise<Extract<LoadReply, { type: T }>> {
    const reply = await this.ipc.ask(request);
    if (reply.type === "failed") throw new Error(`the load generator failed: ${reply.message}`);
    if (reply.type !== expected) throw new Error(`the load generator answered ${reply.type}, not ${expected}`);
    return reply as Extract<LoadReply, { type: T }>;
  }

  stop(): void {
    this.ipc.send({ type: "stop" });
  }
}

interface Point {
  workload: WorkloadName;
  load: Load;
  requests: number;
  errors: number;
  firstError?: string;
  requestsPerSecond: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  // Each round's own p50, to show how much the machine's noise moves it.
  roundP50s: number[];
  // Each round's server and Postgres CPU per call, likewise.
  roundPlatformCpuMsPerCall: number[];
  serverCpuMsPerCall: number;
  postgresCpuMsPerCall: number;
  clientCpuMsPerCall: number;
  mainOnCoreMsPerCall: number;
  mainWaitedMsPerCall: number;
  loopBusyShare: number;
  machineIdleShare: number;
}

function summarize(workload: WorkloadName, load: Load, slices: readonly Slice[]): Point {
  const all = slices.flatMap((s) => s.latenciesMs).sort((a, b) => a - b);
  const sum = (pick: (s: Slice) => number) => slices.reduce((total, s) => total + pick(s), 0);
  const elapsedMs = sum((s) => s.elapsedMs);
  const calls = all.length + sum((s) => s.errors);
  return {
    workload,
    load,
    requests: all.length,
    errors: sum((s) => s.errors),
    firstError: slices.find((s) => s.firstError)?.firstError,
    requestsPerSecond: (all.length / elapsedMs) * 1000,
    p50: percentile(all, 50),
    p90: percentile(all, 90),
    p99: percentile(all, 99),
    max: all.at(-1) ?? Number.NaN,
    roundP50s: slices.map((s) => percentile([...s.latenciesMs].sort((a, b) => a - b), 50)),
    roundPlatformCpuMsPerCall: slices.map((s) => (s.serverCpuMs + s.postgresCpuMs) / Math.max(1, s.latenciesMs.length + s.errors)),
    serverCpuMsPerCall: sum((s) => s.serverCpuMs) / calls,
    postgresCpuMsPerCall: sum((s) => s.postgresCpuMs) / calls,
    clientCpuMsPerCall: sum((s) => s.clientCpuMs) / calls,
    mainOnCoreMsPerCall: sum((s) => s.mainThread.onCoreMs) / calls,
    mainWaitedMsPerCall: sum((s) => s.mainThread.waitedMs) / calls,
    loopBusyShare: sum((s) => s.mainThread.loop.active) / sum((s) => s.mainThread.loop.active + s.mainThread.loop.idle),
    machineIdleShare: sum((s) => s.mainThread.idleTicks) / sum((s) => s.mainThread.allTicks),
  };
}

// Calls against the server's garbage collections that fell within them.
interface CallsAndCollections {
  calls: number;
  p50: number;
  withScavenge: number;
  // A mark-compact's pause, its incremental marking or its weak callbacks.
  withFullCollection: number;
  withNone: number;
  // The collections' time within a call (each clipped to the call), mean over the calls.
  meanCollectionMs: number;
}

// The slices' calls of at least `fromMs`, each matched with the collections
// that overlapped it.
function callsAndCollections(slices: readonly Slice[], pauses: readonly GcPause[], fromMs: number): CallsAndCollections {
  const calls = slices
    .flatMap((s) => s.latenciesMs.map((ms, i) => ({ start: s.startedAtMs[i]!, ms })))
    .filter((c) => c.ms >= fromMs);
  const sorted = [...pauses].sort((a, b) => a.startedAtMs - b.startedAtMs);
  const longestPause = Math.max(0, ...sorted.map((p) => p.ms));
  let withScavenge = 0;
  let withFullCollection = 0;
  let withNone = 0;
  let collectionMs = 0;
  for (const call of calls) {
    const end = call.start + call.ms;
    // The first pause that may overlap the call: one that starts earlier by
    // more than the longest pause's length has ended before the call began.
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]!.startedAtMs < call.start - longestPause) lo = mid + 1;
      else hi = mid;
    }
    const inside = [];
    for (let i = lo; i < sorted.length && sorted[i]!.startedAtMs < end; i++) {
      const pause = sorted[i]!;
      const overlap = Math.min(end, pause.startedAtMs + pause.ms) - Math.max(call.start, pause.startedAtMs);
      if (overlap > 0) inside.push({ pause, overlap });
    }
    if (inside.some((p) => p.pause.kind === "scavenge")) withScavenge += 1;
    if (inside.some((p) => p.pause.kind !== "scavenge")) withFullCollection += 1;
    if (inside.length === 0) withNone += 1;
    collectionMs += inside.reduce((total, p) => total + p.overlap, 0);
  }
  return {
    calls: calls.length,
    p50: median(calls.map((c) => c.ms)),
    withScavenge,
    withFullCollection,
    withNone,
    meanCollectionMs: collectionMs / Math.max(1, calls.length),
  };
}

// A call's SQL, traced on the app's pool.
function traceSql(app: OneRouter, call: () => Promise<number>): Promise<SqlTrace> {
  return traceRequestSql(app.db.knex, call);
}

async function main() {
  keepPreloadsToThisProcess();
  const runStarted = performance.now();
  const postgres = embedded ? undefined : await startPostgres({ statementStats: true });
  if (!embedded && !postgres) throw new Error("no PostgreSQL binaries found (pg_ctl and initdb on PATH or under /usr/lib/postgresql)");
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "onerouter-bench-"));
  const { load, sandboxUrl } = await LoadGenerator.start();
  let app: OneRouter | undefined;
  // Closing is not part of the measurement: bounded, then the process exits.
  const cleanUp = async () => {
    load.stop();
    await Promise.race([app?.close(), new Promise((r) => setTimeout(r, 5000).unref())]).catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  };
  const watchdog = setTimeout(() => {
    console.error("the benchmark ran past 20 minutes; stopping");
    void cleanUp().finally(() => process.exit(1));
  }, 20 * 60_000);
  watchdog.unref();
  try {
    const port = await freePort();
    app = await startBenchApp(dataDir, {
      ...(postgres && { DATABASE_URL: postgres.url }),
      PORT: String(port),
      ONEROUTER_RATE_LIMIT_RPS: String(rateLimitRps),
      ONEROUTER_RATE_LIMIT_BURST: String(rateLimitRps),
      // The sandbox account is pointed at the benchmark's sandbox, and
      // its webhooks at this server's inbound route.
      ONEROUTER_PROVIDER_BASE_URLS: `${sandboxUrl},http://127.0.0.1:${port}`,
      ONEROUTER_PROVIDER_ALLOWED_CIDRS: "127.0.0.0/8",
    });
    // Embedded, the database's CPU is the server process's own.
    const postgresCpu = postgres ? postgresCpuReader(Number(new URL(postgres.url).port)) : () => 0;
    await measure(app, load, sandboxUrl, postgresCpu, runStarted);
  } finally {
    clearTimeout(watchdog);
    await cleanUp();
  }
}

async function measure(app: OneRouter, load: LoadGenerator, sandboxUrl: string, postgresCpu: () => number, runStarted: number) {
  const scope = { tenantId: app.defaultTenantId, environment: "test" as const };
  const { secret } = await createApiKey(app.db.knex, { ...scope, environment: Environment.TEST, name: "payments benchmark", createdBy: "bench" });
  const [account] = await app.accounts.listWithCredentials({ ...scope, category: "payments" });
  if (!account || account.provider !== "sandbox") throw new Error("the default tenant has no sandbox payments account");
  const pointAccount = (settings: Record<string, string>) => app.accounts.update(scope, account.id, { settings: { ...account.settings, ...settings } });
  // The sandbox signs and sends each payment's webhook to the account's inbound route, as a provider does.
  const withWebhooks = { base_url: sandboxUrl, webhook_url: `http://127.0.0.1:${app.server.port}${inboundWebhookPath("sandbox", account.id)}` };
  await pointAccount(withWebhooks);
  await load.ask(
    { type: "configure", baseUrl: `http://127.0.0.1:${app.server.port}`, apiKey: secret, credentials: account.credentials, maxConcurrency: settings.highConcurrency },
    "configured",
  );

  const memory = watchMemory();
  const pause = () => new Promise((r) => setTimeout(r, settings.settleMs));
  const runSlice = async (workload: WorkloadName, at: Load, durationMs: number): Promise<Slice> => {
    const cpuAtStart = process.cpuUsage();
    const postgresAtStart = postgresCpu();
    const mainThreadAtStart = readMainThread();
    const { result } = await load.ask(
      { type: "slice", workload, concurrency: at.concurrency, ...(at.rate && { rate: at.rate }), durationMs, maxRequests: settings.sliceMaxRequests },
      "slice",
    );
    const mainThread = mainThreadSince(mainThreadAtStart);
    const cpu = process.cpuUsage(cpuAtStart);
    const slice = { ...result, serverCpuMs: (cpu.user + cpu.system) / 1000, postgresCpuMs: postgresCpu() - postgresAtStart, mainThread };
    await pause();
    return slice;
  };

  const high: Load = { label: `concurrency ${settings.highConcurrency}`, concurrency: settings.highConcurrency };
  let capacity = 0;
  for (const workload of workloadNames) {
    const warm = await runSlice(workload, high, settings.warmupMs);
    if (workload === "CreatePayment") capacity = (warm.latenciesMs.length / warm.elapsedMs) * 1000;
  }
  const loads: Load[] = [
    { label: "concurrency 1", concurrency: 1 },
    high,
    ...settings.ratePercents.map((p) => {
      const rate = Math.max(1, Math.round((capacity * p) / 100));
      return { label: `${rate}/s offered (${p} %)`, concurrency: 0, rate };
    }),
  ];

  const rssBefore = process.memoryUsage().rss;
  const loadBefore = os.loadavg()[0]!;
  const loopWatch = watchLoop(app);
  const slices = new Map<string, Slice[]>();
  const key = (name: WorkloadName, at: Load) => `${name}@${at.label}`;
  for (let round = 0; round < settings.rounds; round++) {
    for (const [i, at] of loads.entries()) {
      // A different workload goes first each time, so none always inherits another's leftovers.
      const shift = (round + i) % workloadNames.length;
      for (const workload of [...workloadNames.slice(shift), ...workloadNames.slice(0, shift)]) {
        const slice = await runSlice(workload, at, settings.sliceMs);
        slices.set(key(workload, at), [...(slices.get(key(workload, at)) ?? []), slice]);
      }
    }
    console.error(`round ${round + 1}/${settings.rounds} done`);
  }
  const rssPeak = memory.stop();
  const loop = loopWatch.stop();
  const loadAfter = os.loadavg()[0]!;
  // The profiled slice is also the window of Postgres's statement costs,
  // which closes once the work its payments caused after their answers
  // (events fanned out, provider webhooks handled) is done.
  if (!embedded) await resetStatementStats(app.db.knex);
  let profiledPayments = 0;
  const profile = await profileServer(async () => (profiledPayments = (await runSlice("CreatePayment", high, settings.sliceMs)).latenciesMs.length));
  const statements = embedded ? undefined : { payments: profiledPayments, costs: await statementCostsOnceSettled(app) };

  // The provider's webhook is another call into the platform: left out while
  // tracing (no webhook_url), so a CreatePayment's window holds that call
  // alone and the sandbox does for it what it does for the direct call.
  await pointAccount({ base_url: sandboxUrl });
  const probe = async (workload: WorkloadName) => (await load.ask({ type: "probe", workload }, "probe")).ms;
  const traces = { createPayment: [] as SqlTrace[], noop: [] as SqlTrace[] };
  await probe("CreatePayment");
  for (let i = 0; i < settings.probes; i++) {
    await pause();
    traces.createPayment.push(await traceSql(app, () => probe("CreatePayment")));
    traces.noop.push(await traceSql(app, () => probe("No-op (ListApiKeys)")));
  }
  const phases = await tracePhases(app, () => probe("CreatePayment"), pause);
  phases.directFromServerMs = await directCallFromServer(sandboxUrl, account.credentials, pause);
  // CreatePayments back to back as in the timed rounds at concurrency 1,
  // without the webhook and then with it sent to the server again: its
  // handling overlaps the end of the payment that caused it and the next one.
  const backToBack = async () => {
    await pause();
    const latencies: number[] = [];
    for (let i = 0; i < settings.probes; i++) latencies.push(await probe("CreatePayment"));
    return median(latencies);
  };
  phases.backToBackMs = await backToBack();
  await pointAccount(withWebhooks);
  phases.backToBackWithWebhookMs = await backToBack();

  const points = loads.flatMap((at) => workloadNames.map((w) => summarize(w, at, slices.get(key(w, at)) ?? [])));
  const sequential = slices.get(key("CreatePayment", loads[0]!)) ?? [];
  const sequentialP99 = points.find((p) => p.workload === "CreatePayment" && p.load === loads[0])!.p99;
  const slowestAtConcurrency1 = {
    p99: sequentialP99,
    all: callsAndCollections(sequential, loop.gcPauseList, 0),
    slowest: callsAndCollections(sequential, loop.gcPauseList, sequentialP99),
  };
  const postgresVersion = ((await app.db.knex.raw("show server_version")) as { rows: { server_version: string }[] }).rows[0]?.server_version;
  const counts = Object.fromEntries(
    await Promise.all(
      ["payments", "payment_attempts", "outbox_events", "idempotency_keys", "inbound_provider_events"].map(
        async (table) => [table, Number(((await app.db.knex(table).count({ n: "*" })) as { n: string }[])[0]?.n)] as const,
      ),
    ),
  );
  const input: ReportInput = {
    points,
    profile,
    phases,
    loads,
    traces,
    rssBefore,
    rssMax: rssPeak.rss,
    rssPeak,
    heapGrowingPercent: heapGrowingPercent(app.config),
    loop,
    loadBefore,
    loadAfter,
    counts,
    postgresVersion: postgresVersion ?? "unknown",
    statements,
    slowestAtConcurrency1,
    runSeconds: (performance.now() - runStarted) / 1000,
  };
  writeFileSync(chartFile, renderChart(input));
  const report = renderReport(input);
  writeFileSync(reportFile, report);
  console.log(report);
}

// Where one sequential CreatePayment's time goes, medians over the probes:
// the RPC's server span (from the interceptors' start to the answer being
// handed to the HTTP layer), the provider call's span within it, and its SQL
// round trips; the rest of the span is the platform's own work and waits in
// the process, and the client's time beyond the span is HTTP, loopback and
// the client's encoding.
interface Phases {
  probes: number;
  clientMs: number;
  serverMs: number;
  providerMs: number;
  sqlMs: number;
  inProcessMs: number;
  outsideMs: number;
  // Outside the span, on the server: from the HTTP request's headers parsed
  // to the span's start (the body read and checked, the request decoded),
  // and from the span's end to the response's last byte handed to the socket.
  beforeSpanMs: number;
  afterSpanMs: number;
  // The rest of outsideMs: both ways over loopback, the client's work.
  wireMs: number;
  // At the client, calls back to back without the provider's webhook and
  // with it sent to the server, as in the timed rounds.
  backToBackMs: number;
  backToBackWithWebhookMs: number;
  // The sandbox connector's call made from the server's process outside any
  // RPC: the provider call without the platform, across the same processes.
  directFromServerMs: number;
}

// Sequential sandbox connector calls from this (the server's) process, with
// an outbound transport of its own under the same rules as the platform's;
// the median, each call after a pause (so, unlike the timed rounds' calls
// back to back, each wakes idle processes). The load generator's direct
// call and the platform's both reach the sandbox in its own process.
async function directCallFromServer(sandboxUrl: string, credentials: Record<string, string>, pause: () => Promise<unknown>): Promise<number> {
  const outbound = new ProviderOutbound({ baseUrls: [sandboxUrl], allowedCidrs: ["127.0.0.0/8"] });
  const accountSettings = { base_url: sandboxUrl };
  const ctx = { credentials, settings: accountSettings, timeoutMs: 10_000, transport: outbound.transport({}, accountSettings) };
  const call = () =>
    sandboxConnector.createPayment(ctx, { attemptId: newId("att"), paymentId: newId("pay"), amount: 1000n, currency: "USD", captureMethod: "automatic", metadata: {} });
  await call();
  const latencies: number[] = [];
  for (let i = 0; i < settings.probes; i++) {
    await pause();
    const started = performance.now();
    await call();
    latencies.push(performance.now() - started);
  }
  return median(latencies);
}

async function tracePhases(app: OneRouter, call: () => Promise<number>, pause: () => Promise<unknown>): Promise<Phases> {
  let finished: ReadableSpan[] = [];
  // When the RPC's span started and ended, on the clock of the HTTP events below.
  const spanTimes = new Map<string, { start: number; end?: number }>();
  const collector: SpanProcessor = {
    onStart: (span) => void spanTimes.set(span.spanContext().spanId, { start: performance.now() }),
    onEnd: (span) => {
      const times = spanTimes.get(span.spanContext().spanId);
      if (times) times.end = performance.now();
      finished.push(span);
    },
    forceFlush: async () => undefined,
    shutdown: async () => undefined,
  };
  // Spans are recorded only while a processor takes them, so only these probes pay for them.
  startTracing().addSpanProcessor(collector);
  // The CreatePayment's HTTP request as the server's HTTP layer saw it.
  const rpcPath = "/onerouter.payments.v1.PaymentService/CreatePayment";
  let served: { start?: number; finish?: number } = {};
  const onRequest = (message: unknown) => {
    if ((message as { request: http.IncomingMessage }).request.url === rpcPath) served.start = performance.now();
  };
  const onFinish = (message: unknown) => {
    if ((message as { request: http.IncomingMessage }).request.url === rpcPath) served.finish = performance.now();
  };
  diagnostics.subscribe("http.server.request.start", onRequest);
  diagnostics.subscribe("http.server.response.finish", onFinish);
  type Row = Omit<Phases, "probes" | "directFromServerMs" | "backToBackMs" | "backToBackWithWebhookMs">;
  const rows: Row[] = [];
  try {
    for (let i = 0; i < settings.probes; i++) {
      await pause();
      finished = [];
      spanTimes.clear();
      served = {};
      const sql = await traceSql(app, call);
      const rpc = finished.find((span) => span.name === "onerouter.payments.v1.PaymentService/CreatePayment");
      const rpcTimes = rpc && spanTimes.get(rpc.spanContext().spanId);
      if (!rpc || rpcTimes?.end === undefined || served.start === undefined || served.finish === undefined) continue;
      const provider = finished.filter((span) => span.parentSpanContext?.spanId === rpc.spanContext().spanId && span.name.startsWith("sandbox "));
      const serverMs = spanMs(rpc);
      const providerMs = provider.reduce((total, span) => total + spanMs(span), 0);
      rows.push({
        clientMs: sql.callMs,
        serverMs,
        providerMs,
        sqlMs: sql.sqlMs,
        inProcessMs: serverMs - providerMs - sql.sqlMs,
        outsideMs: sql.callMs - serverMs,
        beforeSpanMs: rpcTimes.start - served.start,
        afterSpanMs: served.finish - rpcTimes.end,
        wireMs: sql.callMs - (served.finish - served.start),
      });
    }
  } finally {
    diagnostics.unsubscribe("http.server.request.start", onRequest);
    diagnostics.unsubscribe("http.server.response.finish", onFinish);
  }
  const of = (pick: (row: Row) => number) => median(rows.map(pick));
  return {
    probes: rows.length,
    clientMs: of((r) => r.clientMs),
    serverMs: of((r) => r.serverMs),
    providerMs: of((r) => r.providerMs),
    sqlMs: of((r) => r.sqlMs),
    inProcessMs: of((r) => r.inProcessMs),
    outsideMs: of((r) => r.outsideMs),
    beforeSpanMs: of((r) => r.beforeSpanMs),
    afterSpanMs: of((r) => r.afterSpanMs),
    wireMs: of((r) => r.wireMs),
    directFromServerMs: Number.NaN,
    backToBackMs: Number.NaN,
    backToBackWithWebhookMs: Number.NaN,
  };
}

function spanMs(span: ReadableSpan): number {
  const [seconds, nanos] = span.duration;
  return seconds * 1000 + nanos / 1e6;
}

interface ReportInput {
  points: Point[];
  profile: ProfileSummary;
  phases: Phases;
  loads: Load[];
  traces: { createPayment: SqlTrace[]; noop: SqlTrace[] };
  rssBefore: number;
  // The highest RSS of this process (the server) seen through the timed rounds.
  rssMax: number;
  rssPeak: NodeJS.MemoryUsage;
  // As limitHeapGrowth set it for the server's database.
  heapGrowingPercent: number;
  loop: LoopWatch;
  // One-minute load averages of the machine around the timed rounds.
  loadBefore: number;
  loadAfter: number;
  counts: Record<string, number>;
  postgresVersion: string;
  runSeconds: number;
  // Postgres's statements over the profiled slice, with the payments it made.
  statements?: { payments: number; costs: StatementCost[] };
  // CreatePayment at concurrency 1: all its calls and those at or above its p99, against the server's collections.
  slowestAtConcurrency1: { p99: number; all: CallsAndCollections; slowest: CallsAndCollections };
}

// Statement costs once every outbox event is fanned out and a second has
// passed for the provider's webhooks (at most ten seconds in all).
async function statementCostsOnceSettled(app: OneRouter): Promise<StatementCost[]> {
  const deadline = Date.now() + 10_000;
  await new Promise((r) => setTimeout(r, 1000));
  while (Date.now() < deadline) {
    const [row] = (await app.db.knex("outbox_events").whereNull("fanned_out_at").count({ n: "*" })) as { n: string }[];
    if (Number(row?.n) === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return readStatementStats(app.db.knex);
}

interface ProfileEntry {
  name: string;
  selfMs: number;
}

interface ProfileSummary {
  totalMs: number;
  // By function (and where it is), and by the package or part of the code it is in.
  functions: ProfileEntry[];
  areas: ProfileEntry[];
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

// The nodes under the inspector's own calls (its native `dispatch`): the
// sampler starting and stopping, whose cost grows with the code loaded, not
// with the work profiled.
function profilerOwnNodes(nodes: readonly CpuProfileNode[]): Set<number> {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const own = new Set<number>();
  const mark = (id: number) => {
    if (own.has(id)) return;
    own.add(id);
    for (const child of byId.get(id)?.children ?? []) mark(child);
  };
  for (const node of nodes) if (node.callFrame.url === "node:inspector") mark(node.id);
  return own;
}

// A loopback port nothing listens on now, for the server to take.
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer().once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

// The server's own CPU profile (V8's sampling profiler, as --cpu-prof
// records it) over `run`, summed by self time.
async function profileServer(run: () => Promise<unknown>): Promise<ProfileSummary> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  // Every sampled allocation, the ones collected since included: what the collector had to deal with.
  if (settings.heapProfileFile) await session.post("HeapProfiler.startSampling", { includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  await run();
  const { profile } = (await session.post("Profiler.stop")) as unknown as {
    profile: { nodes: CpuProfileNode[]; samples: number[]; timeDeltas: number[] };
  };
  if (settings.heapProfileFile) writeFileSync(settings.heapProfileFile, JSON.stringify((await session.post("HeapProfiler.stopSampling")).profile));
  session.disconnect();
  if (settings.cpuProfileFile) writeFileSync(settings.cpuProfileFile, JSON.stringify(profile));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const profilerOwn = profilerOwnNodes(profile.nodes);
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  let totalMs = 0;
  profile.samples.forEach((id, i) => {
    const { functionName, url: scriptUrl, lineNumber: scriptLine, columnNumber } = nodes.get(id)!.callFrame;
    const frame = { functionName, ...sourceOf(scriptUrl, scriptLine, columnNumber) };
    const deltaMs = (profile.timeDeltas[i] ?? 0) / 1000;
    if (frame.functionName === "(idle)" || frame.functionName === "(program)" || profilerOwn.has(id)) return;
    totalMs += deltaMs;
    const where = frame.url.replace(/^file:\/\//, "").replace(/^.*\/node_modules\//, "node_modules/").replace(`${process.cwd()}/`, "");
    const name = `${frame.functionName || "(anonymous)"} ${where ? `${where}:${frame.lineNumber + 1}` : ""}`.trim();
    byFunction.set(name, (byFunction.get(name) ?? 0) + deltaMs);
    const area = frame.functionName === "(garbage collector)" ? "garbage collector" : areaOf(where);
    byArea.set(area, (byArea.get(area) ?? 0) + deltaMs);
  });
  const top = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, selfMs]) => ({ name, selfMs }));
  return { totalMs, functions: top(byFunction, 15), areas: top(byArea, 10) };
}

function areaOf(where: string): string {
  if (where === "") return "native and V8";
  if (where.startsWith("node:")) return `Node.js ${where.slice(5).split("/")[0]!.replace(/:.*$/, "")}`;
  const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where)?.[1];
  if (pkg) return pkg;
  const room = /^services\/([^/]+)\//.exec(where)?.[1];
  return room ? `services/${room}` : where.split("/")[0]!;
}

interface MedianTrace {
  callMs: number;
  statements: number;
  transactions: number;
  sqlMs: number;
  // The probe whose statement count is the median, as the example of what one call runs.
  typical: SqlTrace;
}

function medianTrace(traces: readonly SqlTrace[]): MedianTrace {
  const statements = median(traces.map((t) => t.statements));
  return {
    callMs: median(traces.map((t) => t.callMs)),
    statements,
    transactions: median(traces.map((t) => t.transactions)),
    sqlMs: median(traces.map((t) => t.sqlMs)),
    typical: traces.find((t) => t.statements === statements) ?? traces[0]!,
  };
}

function finder(input: ReportInput) {
  return (workload: WorkloadName, at: Load) => input.points.find((p) => p.workload === workload && p.load === at)!;
}

// One side of the database's hold on the event loop, for the targets table.
function holdText(what: string, stretches: MainThreadStretches): string {
  const average = stretches.totalMs / Math.max(1, stretches.count);
  return `${what}: longest ${ms(stretches.longestMs)} ms of ${stretches.count} (${ms(stretches.longestStretchOnCpuMs ?? NaN)} ms of it on a core, ${ms(stretches.longestStretchDatabaseMs ?? NaN)} ms of it the database's), ${ms(average)} ms on average`;
}

// The most of one side's stretch the database accounts for.
function databaseText(what: string, stretches: MainThreadStretches): string {
  return `${what} ${ms(stretches.longestDatabaseMs ?? NaN)} ms`;
}

// The most time one side's stretch ran on a core.
function onCpuText(what: string, stretches: MainThreadStretches): string {
  return `${what} ${ms(stretches.longestOnCpuMs ?? NaN)} ms, ${ms((stretches.totalOnCpuMs ?? NaN) / Math.max(1, stretches.count))} ms on average`;
}

// Every target of the payment path this benchmark measures; `met` is left
// out of a row that only informs.
function targets(input: ReportInput): { target: string; measured: string; goal: string; met?: boolean }[] {
  const find = finder(input);
  const [low, high] = input.loads as [Load, Load];
  const pay = find("CreatePayment", high);
  const noop = find("No-op (ListApiKeys)", high);
  const payLow = find("CreatePayment", low);
  const directLow = find("Sandbox connector direct", low);
  const trace = medianTrace(input.traces.createPayment);
  const cpu = pay.serverCpuMsPerCall + pay.postgresCpuMsPerCall;
  const cpuByRound = `${ms(Math.min(...pay.roundPlatformCpuMsPerCall))}–${ms(Math.max(...pay.roundPlatformCpuMsPerCall))}`;
  const throughput = pay.requestsPerSecond / noop.requestsPerSecond;
  if (embedded) {
    const { loop } = input;
    const { handing, reading } = loop.databaseHold;
    const longestHold = Math.max(handing.longestDatabaseMs ?? NaN, reading.longestDatabaseMs ?? NaN);
    const longestStretch = Math.max(handing.longestMs, reading.longestMs);
    const longestOnCpu = Math.max(handing.longestOnCpuMs ?? NaN, reading.longestOnCpuMs ?? NaN);
    return [
      {
        target: `Platform CPU per payment (server process with its PGlite, ${high.label}; by round min–max)`,
        measured: `${ms(cpu)} ms (${cpuByRound})`,
        goal: "–",
      },
      { target: `Throughput, CreatePayment ÷ no-op (${high.label})`, measured: `${(100 * throughput).toFixed(1)} %`, goal: "≥ 20 %", met: throughput >= 0.2 },
      {
        target: `Event loop held by the database through the timed rounds: the most of one stretch of the main thread on a database call that the database accounts for, which is the main thread's time on a core, less its garbage collections within the stretch (the server's heap, collected whenever an allocation finds it full, which the row on collections below counts), plus the time the database's thread was busy meanwhile, all the core it can have taken from the main thread (${databaseText("handing calls over", handing)}; ${databaseText("reading answers", reading)})`,
        measured: `${ms(longestHold)} ms`,
        goal: "≤ 5 ms",
        met: longestHold <= 5,
      },
      {
        target: `The main thread's longest stretch on a database call, wall time: also its waits for a core while other threads and processes had both (${holdText("handing calls over", handing)}; ${holdText("reading answers", reading)})`,
        measured: `${ms(longestStretch)} ms`,
        goal: "–",
      },
      {
        target: `Event loop held by the database on a core: the most time one such stretch ran on a core, its waits for a core (preemption) left out (${onCpuText("handing", handing)}; ${onCpuText("reading", reading)})`,
        measured: `${ms(longestOnCpu)} ms`,
        goal: "–",
      },
      { target: "Event loop's longest delay through the timed rounds, any cause (garbage collection and CPU taken by the other threads and processes)", measured: `${ms(loop.delayMaxMs)} ms`, goal: "–" },
      { target: "Event loop's delay, p99, any cause", measured: `${ms(loop.delayP99Ms)} ms`, goal: "–" },
      {
        target: `Longest garbage collection in the main thread (of ${loop.gcPauses}, ${loop.gcPausesOver5Ms} over 5 ms), a delay of its own length`,
        measured: `${ms(loop.longestGcMs)} ms (${loop.longestGcKind})`,
        goal: "–",
      },
      { target: `Longest single database call, wall time (of ${loop.databaseCalls})`, measured: `${ms(loop.longestDatabaseCallMs)} ms`, goal: "–" },
      { target: "Server RSS through the timed rounds (highest)", measured: mb(input.rssMax), goal: "< 300 MiB", met: input.rssMax < 300 * 2 ** 20 },
    ];
  }
  return [
    {
      target: `Platform CPU per payment (server + Postgres, ${high.label}; by round min–max)`,
      measured: `${ms(cpu)} ms (${cpuByRound})`,
      goal: "≤ 6 ms",
      met: cpu <= 6,
    },
    { target: "Transactions per CreatePayment", measured: String(trace.transactions), goal: "≤ 2", met: trace.transactions <= 2 },
    { target: "Round trips per CreatePayment", measured: String(trace.statements), goal: "≤ 8", met: trace.statements <= 8 },
    {
      target: `Throughput, CreatePayment ÷ no-op (${high.label})`,
      measured: `${(100 * throughput).toFixed(1)} %`,
      goal: "≥ 25 % (aim 35 %)",
      met: throughput >= 0.25,
    },
    { target: "Overhead over the direct call, p50 (concurrency 1)", measured: `${ms(payLow.p50 - directLow.p50)} ms`, goal: "≤ 4 ms (aim 2)", met: payLow.p50 - directLow.p50 <= 4 },
    { target: "Overhead over the direct call, p99 (concurrency 1)", measured: `${ms(payLow.p99 - directLow.p99)} ms`, goal: "≤ 10 ms", met: payLow.p99 - directLow.p99 <= 10 },
    { target: "Server RSS through the timed rounds (highest)", measured: mb(input.rssMax), goal: "< 300 MiB", met: input.rssMax < 300 * 2 ** 20 },
  ];
}

function renderReport(input: ReportInput): string {
  const { points } = input;
  const cpus = os.cpus();
  const find = finder(input);
  const sql = { createPayment: medianTrace(input.traces.createPayment), noop: medianTrace(input.traces.noop) };
  const lines: string[] = [];
  const out = (...text: string[]) => lines.push(...text);
  out(
    "# Payments benchmark",
    "",
    `Generated by \`npm run bench:payments\` (bench/payments/run.ts) on ${new Date().toISOString()}; each run overwrites this file and chart.png.`,
    "",
    "## Targets",
    "",
    "| Target | Measured | Goal | Met |",
    "|---|---:|---:|:---:|",
    ...targets(input).map((t) => `| ${t.target} | ${t.measured} | ${t.goal} | ${t.met === undefined ? "–" : t.met ? "yes" : "**no**"} |`),
    "",
    embedded
      ? `Embedded: OneRouter on a PGlite data folder, as \`npm start\` runs it. The database holds the event loop only for the main thread's own part of each call, which PGlite's thread client times (core's PGliteThread): handing the call to the thread, and reading its answer back (v8.deserialize); the statement runs in the thread meanwhile. A stretch's wall time also holds the main thread's waits for a core (from Linux's scheduler statistics); of those, the database accounts for no more than the time its thread was busy meanwhile (from a call's arrival there to its answer, which the thread keeps in memory both share), and the rest went to the other threads and processes on the machine's ${cpus.length} cores. A garbage collection of the main thread within a stretch (from Node's performance timeline) stops it for the server's whole heap, so it counts as a collection, not as the database's. The event loop's delay from any cause is Node's monitorEventLoopDelay (1 ms resolution) in the server's process; a database call's wall time is from handing the statement to PGlite to its answer: time the loop stands still while PGlite runs in the main thread, time it is free for other work while PGlite runs in a worker thread.`
      : "Not measured by this benchmark: latency at 1,000,000 payments; the embedded mode is BENCH_ENGINE=embedded (REPORT-embedded.md).",
    "",
    `![Latency, throughput and CPU per call](${path.basename(chartFile)})`,
    "",
    "## Machine",
    "",
    `- CPU: ${cpus[0]?.model.trim() ?? "unknown"} × ${cpus.length}`,
    `- OS: ${os.type()} ${os.release()} (${os.arch()}), ${mb(os.totalmem())} memory`,
    `- Node.js: ${process.version}`,
    embedded
      ? `- Database: PGlite (PostgreSQL ${input.postgresVersion}) in a fresh data folder, in the server's process`
      : `- PostgreSQL: ${input.postgresVersion}, a throw-away local cluster (test/infra.ts: fsync off, so commits cost less than on a durable server)`,
    `- Load average (1 min): ${input.loadBefore.toFixed(1)} before the timed rounds, ${input.loadAfter.toFixed(1)} after, on ${cpus.length} cores; anything above ${cpus.length} is other work on the shared machine competing with this run`,
    `- Whole run: ${input.runSeconds.toFixed(0)} s`,
    "",
    "## Setup",
    "",
    `OneRouter runs alone in the benchmark's process against Postgres over loopback (pool of 10 connections), with the rate limiter raised to ${rateLimitRps} requests/s so it never refuses. The load generator runs in a second process (bench/payments/load.ts) and the sandbox provider in a third (bench/payments/sandbox.ts), which the tenant's sandbox account is pointed at (settings.base_url), so neither the client's nor the provider's work counts as the platform's, and the direct call crosses a process boundary as the platform's call to the sandbox does. The sandbox sends its webhook for each payment back to the server, as a provider does: handling it is platform work and counts. All four processes and Postgres share the ${cpus.length} CPU cores.`,
    "",
    "- **CreatePayment**: `PaymentService.CreatePayment` { amount 1000, currency USD } with a fresh Idempotency-Key per call, Connect protocol (binary) over HTTP/1.1 with keep-alive. Counted as an error unless the payment comes back SUCCEEDED.",
    "- **No-op (ListApiKeys)**: `ApiKeyService.ListApiKeys` { page_size 1 }: the cheapest unary method that passes the gatekeeper (API-key check, scopes, rate limiter) and does one indexed read.",
    "- **Sandbox connector direct**: `sandboxConnector.createPayment` with the same account's credentials, from the load generator to the sandbox's process: the provider call a CreatePayment makes, without the platform.",
    "",
    `Schedule: after a ${settings.warmupMs} ms unrecorded warm-up per workload at ${input.loads[1]!.label} (which also gives CreatePayment's capacity for the offered rates), ${settings.rounds} round(s); in each, every load (${input.loads.map((l) => l.label).join("; ")}) runs each workload for a ${settings.sliceMs} ms slice (at most ${settings.sliceMaxRequests} requests), the order of workloads rotating, a ${settings.settleMs} ms pause after each slice. Closed loop at a concurrency; open loop at an offered rate, each call's latency counted from when it was due. Latencies are of successful calls, in ms; requests/s is successful calls over the slices' wall time. CPU per call: user + system time of the server's process, of Postgres's processes (from /proc) and of the load generator and the sandbox together, divided by the calls.`,
    "",
    "## Results",
    "",
    "| Workload | Load | Requests | Errors | Requests/s | p50 | p90 | p99 | Max | p50 by round (min–max) | CPU ms/call, server | CPU ms/call, Postgres | CPU ms/call, client + sandbox |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const p of points) {
    out(
      `| ${p.workload} | ${p.load.label} | ${p.requests} | ${p.errors} | ${p.requestsPerSecond.toFixed(0)} | ${ms(p.p50)} | ${ms(p.p90)} | ${ms(p.p99)} | ${ms(p.max)} | ${ms(Math.min(...p.roundP50s))}–${ms(Math.max(...p.roundP50s))} | ${ms(p.serverCpuMsPerCall)} | ${ms(p.postgresCpuMsPerCall)} | ${ms(p.clientCpuMsPerCall)} |`,
    );
  }
  const failing = points.filter((p) => p.firstError);
  if (failing.length > 0) {
    out("", "First error of each failing point:", "");
    for (const p of failing) out(`- ${p.workload}, ${p.load.label}: ${p.firstError}`);
  }
  out(
    "",
    "## Platform overhead",
    "",
    "Overhead is CreatePayment's latency minus the direct connector call's at the same load and percentile; the ratio divides them.",
    "",
    "| Load | CreatePayment p50 | Direct p50 | Overhead p50 | Ratio p50 | CreatePayment p99 | Direct p99 | Overhead p99 | Requests/s CreatePayment ÷ no-op |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const at of input.loads) {
    const pay = find("CreatePayment", at);
    const direct = find("Sandbox connector direct", at);
    const noop = find("No-op (ListApiKeys)", at);
    out(
      `| ${at.label} | ${ms(pay.p50)} | ${ms(direct.p50)} | ${ms(pay.p50 - direct.p50)} | ${ratio(pay.p50, direct.p50)} | ${ms(pay.p99)} | ${ms(direct.p99)} | ${ms(pay.p99 - direct.p99)} | ${at.rate ? "– (offered)" : ratio(pay.requestsPerSecond, noop.requestsPerSecond)} |`,
    );
  }
  const percentOf = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(0)} %` : "–");
  out(
    "",
    "### The server's main thread",
    "",
    `One thread runs all of the platform's JavaScript (Connect, the gatekeeper, the engines, knex and pg, the HTTP client and server). Where its event loop is busy nearly all the time, that thread is what bounds requests/s: each call takes its time on a core plus its time waiting for one, runnable while other threads and processes (${embedded ? "the embedded database's thread" : "Postgres's backends its own writes woke"}, the sandbox, the load generator) held both cores. Per call, from Linux's scheduler statistics of the main thread; the rest of the server's CPU is its other threads (${embedded ? "the embedded database's, " : ""}V8's helpers, which mark and scavenge for the garbage collector and compile, and libuv's pool). Cores idle is the machine's share of core time spent idle meanwhile.`,
    "",
    "| Workload | Load | Event loop busy | Main thread on a core, ms/call | Waiting for a core, ms/call | Other threads, ms/call | Cores idle |",
    "|---|---|---:|---:|---:|---:|---:|",
  );
  for (const at of input.loads.filter((l) => !l.rate)) {
    for (const workload of ["CreatePayment", "No-op (ListApiKeys)"] as const) {
      const p = find(workload, at);
      out(
        `| ${workload} | ${at.label} | ${percentOf(p.loopBusyShare)} | ${ms(p.mainOnCoreMsPerCall)} | ${ms(p.mainWaitedMsPerCall)} | ${ms(p.serverCpuMsPerCall - p.mainOnCoreMsPerCall)} | ${percentOf(p.machineIdleShare)} |`,
      );
    }
  }
  const { slowestAtConcurrency1: tail } = input;
  const shareOf = (n: number, of: CallsAndCollections) => `${of.calls === 0 ? "–" : Math.round((100 * n) / of.calls)} %`;
  const tailRow = (label: string, c: CallsAndCollections) =>
    `| ${label} | ${c.calls} | ${ms(c.p50)} | ${shareOf(c.withScavenge, c)} | ${shareOf(c.withFullCollection, c)} | ${shareOf(c.withNone, c)} | ${ms(c.meanCollectionMs)} |`;
  out(
    "",
    "### CreatePayment's slowest calls at concurrency 1",
    "",
    `Each CreatePayment of the timed rounds at concurrency 1 against the garbage collections in the server's main thread while it ran (its start from the load generator, the collections from the server, on the clock the machine's processes share): the slowest 1 % (at or above the p99, ${ms(tail.p99)} ms) beside all of them. A collection within a call stopped the server for its length; a slow call with none within it was held up by something else, on ${cpus.length} shared cores most often the other threads and processes (${embedded ? "PGlite's thread" : "Postgres"}, the sandbox, the load generator) taking the cores.`,
    "",
    "| CreatePayments at concurrency 1 | Calls | p50 | With a scavenge within | With a full collection's pause within (mark-compact, its incremental marking or weak callbacks) | With no collection within | Collections' ms within, mean |",
    "|---|---:|---:|---:|---:|---:|---:|",
    tailRow("All", tail.all),
    tailRow("The slowest 1 %", tail.slowest),
  );
  out(
    "",
    "## Where a CreatePayment's time goes",
    "",
    `SQL of ${input.traces.createPayment.length} sequential calls of each Connect workload, traced after the timed rounds without the sandbox's webhook (medians): a CreatePayment took ${ms(sql.createPayment.callMs)} ms at the client, ${ms(sql.createPayment.sqlMs)} ms of it inside the round trips of ${sql.createPayment.statements} statements in ${sql.createPayment.transactions} transactions (an explicit transaction, or a statement sent outside one), from sending each to its answer being handled; a no-op took ${ms(sql.noop.callMs)} ms, ${ms(sql.noop.sqlMs)} ms of it for ${sql.noop.statements} statements in ${sql.noop.transactions} transactions. One typical CreatePayment, by statement:`,
    "",
    "| Statement | Count |",
    "|---|---:|",
  );
  for (const [kind, count] of sql.createPayment.typical.byKind) out(`| ${kind} | ${count} |`);
  const { phases } = input;
  out(
    "",
    `The same, by phase, from ${phases.probes} more sequential CreatePayments with the product's spans recorded (medians of each phase, so they need not add up exactly): the RPC's server span runs from the interceptors' start to the answer handed to the HTTP layer; the HTTP request runs from its headers parsed on the server to its response's last byte handed to the socket. These payments send no webhook, so the sandbox works for each as for a direct call. Last, ${settings.probes} CreatePayments back to back as in the timed rounds, without the webhook and then with it sent to the server. Every call here is started by its own message to the load generator, most after a pause, so each hop of it (client, server, Postgres, sandbox) wakes a process whose core may have gone idle meanwhile; in the timed rounds the processes stay busy. On this machine that makes these calls slower than concurrency 1's p50 above (and recording spans adds its own cost): read the rows as shares of a call, not as the timed rounds' latency.`,
    "",
    "| Phase | ms |",
    "|---|---:|",
    `| At the client | ${ms(phases.clientMs)} |`,
    `| Outside the server span (HTTP parsing and writing, loopback, the client's encoding) | ${ms(phases.outsideMs)} |`,
    `| of which on the server before the span (the body read and checked, the request decoded) | ${ms(phases.beforeSpanMs)} |`,
    `| of which on the server after the span (the answer encoded and written) | ${ms(phases.afterSpanMs)} |`,
    `| of which outside the server's HTTP request (loopback both ways, the client's work) | ${ms(phases.wireMs)} |`,
    `| Server span | ${ms(phases.serverMs)} |`,
    `| of which the provider call (the sandbox's span) | ${ms(phases.providerMs)} |`,
    `| of which SQL round trips | ${ms(phases.sqlMs)} |`,
    `| of which the rest: gatekeeper, idempotency, routing, encoding, waits in the process | ${ms(phases.inProcessMs)} |`,
    `| The provider call without the platform, from the server's process (the connector alone) | ${ms(phases.directFromServerMs)} |`,
    `| At the client, back to back, without the provider's webhook | ${ms(phases.backToBackMs)} |`,
    `| At the client, back to back, with the webhook sent to the server (as in the timed rounds) | ${ms(phases.backToBackWithWebhookMs)} |`,
  );
  const { profile } = input;
  const share = (e: ProfileEntry) => `${((100 * e.selfMs) / profile.totalMs).toFixed(1)} %`;
  out(
    "",
    "## Profile",
    "",
    `The server's CPU profile (V8's sampler, as \`--cpu-prof\` takes it) over one more ${settings.sliceMs} ms slice of CreatePayment at ${input.loads[1]!.label} after the timed rounds: ${ms(profile.totalMs)} ms of samples not idle (the sampler's own start and stop left out), by self time.`,
    "",
    "| Part | Self time | Share |",
    "|---|---:|---:|",
    ...profile.areas.map((e) => `| ${e.name} | ${ms(e.selfMs)} ms | ${share(e)} |`),
    "",
    "| Function | Self time | Share |",
    "|---|---:|---:|",
    ...profile.functions.map((e) => `| \`${e.name.replace(/\|/g, "\\|")}\` | ${ms(e.selfMs)} ms | ${share(e)} |`),
  );
  if (input.statements) {
    const { payments, costs } = input.statements;
    const per = (v: number) => ms(v / payments);
    const total = (pick: (c: StatementCost) => number) => costs.reduce((sum, c) => sum + pick(c), 0);
    out(
      "",
      "## Postgres's statements",
      "",
      `Every statement Postgres ran over the profiled slice (${payments} payments) and the work they caused after their answers (fan-out, the provider's webhooks, the readers' polls), from pg_stat_statements, per payment: ${per(total((c) => c.calls))} statements, ${per(total((c) => c.planMs))} ms planning and ${per(total((c) => c.execMs))} ms executing (Postgres's wall time, lock waits included; its CPU per payment is in the results above). The costliest:`,
      "",
      "| Statement | Calls/payment | Planning ms/payment | Executing ms/payment | Rows/call |",
      "|---|---:|---:|---:|---:|",
      ...costs
        .slice(0, 25)
        .map(
          (c) =>
            `| \`${c.text.replace(/\|/g, "\\|")}\` | ${per(c.calls)} | ${per(c.planMs)} | ${per(c.execMs)} | ${(c.rows / Math.max(c.calls, 1)).toFixed(1)} |`,
        ),
    );
  }
  out(
    "",
    "## Memory and rows",
    "",
    `- Server RSS: ${mb(input.rssBefore)} after the warm-up, ${mb(input.rssMax)} at most through the timed rounds. Then: ${memoryParts(input.rssPeak)}.`,
    `- The server's process: ${processDescription("bench:payments", input.heapGrowingPercent)}.`,
    `- Rows at the end: ${Object.entries(input.counts)
      .map(([table, n]) => `${table} ${n}`)
      .join(", ")}.`,
    "",
  );
  return lines.join("\n");
}

// Three panels drawn as SVG and rendered to PNG: latency at concurrency 1,
// requests/s at the high concurrency, and CPU per call by process there.
function renderChart(input: ReportInput): Buffer {
  const find = finder(input);
  const [low, high] = input.loads as [Load, Load];
  const colors: Record<WorkloadName, string> = {
    CreatePayment: "#d9534f",
    "No-op (ListApiKeys)": "#5b8def",
    "Sandbox connector direct": "#5cb85c",
  };
  const panelWidth = 330;
  const panelHeight = 220;
  const top = 60;
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const parts: string[] = [];
  const panel = (index: number, title: string, bars: { label: string; value: number; color: string; stack?: number }[], unit: string) => {
    const x0 = 20 + index * (panelWidth + 30);
    const maxValue = Math.max(...bars.map((b) => b.value + (b.stack ?? 0)), 1e-9);
    const barWidth = (panelWidth - 20) / bars.length - 10;
    parts.push(`<text x="${x0}" y="${top - 20}" font-size="12" font-weight="bold">${esc(title)}</text>`);
    parts.push(`<line x1="${x0}" y1="${top + panelHeight}" x2="${x0 + panelWidth}" y2="${top + panelHeight}" stroke="#333"/>`);
    bars.forEach((b, i) => {
      const x = x0 + 10 + i * (barWidth + 10);
      const h = (b.value / maxValue) * (panelHeight - 20);
      parts.push(`<rect x="${x}" y="${top + panelHeight - h}" width="${barWidth}" height="${h}" fill="${b.color}"/>`);
      let labelTop = top + panelHeight - h;
      if (b.stack !== undefined) {
        const hs = (b.stack / maxValue) * (panelHeight - 20);
        labelTop -= hs;
        parts.push(`<rect x="${x}" y="${labelTop}" width="${barWidth}" height="${hs}" fill="${b.color}" opacity="0.45"/>`);
      }
      const label = b.stack === undefined ? `${ms(b.value)} ${unit}` : `${ms(b.value)} / ${ms(b.value + b.stack)} ${unit}`;
      parts.push(`<text x="${x + barWidth / 2}" y="${labelTop - 4}" font-size="11" text-anchor="middle">${esc(label)}</text>`);
      parts.push(`<text x="${x + barWidth / 2}" y="${top + panelHeight + 14}" font-size="10" text-anchor="middle">${esc(b.label)}</text>`);
    });
  };
  const short: Record<WorkloadName, string> = { CreatePayment: "CreatePayment", "No-op (ListApiKeys)": "no-op", "Sandbox connector direct": "direct" };
  panel(
    0,
    `Latency p50 / p99, ${low.label}`,
    workloadNames.map((w) => ({ label: short[w], value: find(w, low).p50, stack: find(w, low).p99 - find(w, low).p50, color: colors[w] })),
    "ms",
  );
  panel(1, `Requests/s, ${high.label}`, workloadNames.map((w) => ({ label: short[w], value: find(w, high).requestsPerSecond, color: colors[w] })), "/s");
  panel(
    2,
    `CPU ms/call, server / + Postgres, ${high.label}`,
    workloadNames.map((w) => ({ label: short[w], value: find(w, high).serverCpuMsPerCall, stack: find(w, high).postgresCpuMsPerCall, color: colors[w] })),
    "ms",
  );
  const width = 20 + 3 * (panelWidth + 30);
  const height = top + panelHeight + 40;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif"><rect width="100%" height="100%" fill="white"/>${parts.join("")}</svg>`;
  return new Resvg(svg, { font: { loadSystemFonts: true } }).render().asPng();
}

runBenchmark(main);
