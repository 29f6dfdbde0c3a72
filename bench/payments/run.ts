import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createApiKey } from "@onerouter/admin";
import { ApiKeyService } from "@onerouter/client/gen/onerouter/admin/v1/api_keys_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { PaymentService, PaymentStatus } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { createLogger, loadConfig, newId } from "@onerouter/core";
import type { ConnectorContext } from "@onerouter/payments/connectors/connector";
import { sandboxConnector } from "@onerouter/payments/connectors/sandbox/index";
import { startOneRouter, type OneRouter } from "@onerouter/server/app";
import { freePort, startPostgres } from "../../test/infra";
import { median, ms, percentile, procStat, ratio, wholeNumber } from "../common";

// CreatePayment on the built-in sandbox with real Postgres, measured side by
// side with a no-op authenticated Connect call on the same server and with the
// sandbox connector called directly. The three workloads take turns in short
// slices, round after round, so the machine's noise falls on all of them alike.
// Writes REPORT.md next to this file and prints the same Markdown.
//
// Knobs (environment): BENCH_CONCURRENCY (1,8,32), BENCH_ROUNDS (4),
// BENCH_SLICE_MS (2000), BENCH_SLICE_MAX_REQUESTS (5000), BENCH_WARMUP_MS
// (1000), BENCH_SETTLE_MS (250), BENCH_SQL_PROBES (20), BENCH_HTTP_VERSION (1.1 or 2).

function concurrencyLevels(): number[] {
  const raw = process.env.BENCH_CONCURRENCY ?? "1,8,32";
  const levels = raw.split(",").map((s) => Number(s.trim()));
  if (levels.length === 0 || levels.some((n) => !Number.isInteger(n) || n < 1 || n > 256)) {
    throw new Error(`BENCH_CONCURRENCY must be comma-separated whole numbers from 1 to 256 (got "${raw}")`);
  }
  return levels;
}

function httpVersion(): "1.1" | "2" {
  const raw = process.env.BENCH_HTTP_VERSION ?? "1.1";
  if (raw !== "1.1" && raw !== "2") throw new Error(`BENCH_HTTP_VERSION must be 1.1 or 2 (got "${raw}")`);
  return raw;
}

const settings = {
  concurrency: concurrencyLevels(),
  rounds: wholeNumber("BENCH_ROUNDS", 4, 1),
  // Each workload runs this long at each concurrency in each round...
  sliceMs: wholeNumber("BENCH_SLICE_MS", 2000, 100),
  // ...or until it has sent this many requests, whichever comes first.
  sliceMaxRequests: wholeNumber("BENCH_SLICE_MAX_REQUESTS", 5000, 1),
  // One unrecorded slice per workload at the highest concurrency, to warm JIT, pools and caches.
  warmupMs: wholeNumber("BENCH_WARMUP_MS", 1000, 0),
  // Pause after each slice, so the sandbox's webhooks and the outbox dispatcher
  // catch up on the work of one workload before the next one is timed.
  settleMs: wholeNumber("BENCH_SETTLE_MS", 250, 0),
  // Sequential calls of each Connect workload whose SQL is traced, after the timed rounds.
  probes: wholeNumber("BENCH_SQL_PROBES", 20, 1),
  httpVersion: httpVersion(),
};

// A call slower than this counts as an error instead of stalling its slice.
const callTimeoutMs = 10_000;
const rateLimitRps = 1_000_000;
const reportFile = path.join(path.dirname(fileURLToPath(import.meta.url)), "REPORT.md");

const workloadNames = ["CreatePayment", "No-op (ListApiKeys)", "Sandbox connector direct"] as const;
type WorkloadName = (typeof workloadNames)[number];

interface Workload {
  name: WorkloadName;
  call(): Promise<void>;
}

// CPU time used so far, in milliseconds: this whole process (client, server
// and sandbox) and the Postgres server's processes.
interface CpuReading {
  processMs: number;
  postgresMs: number;
}

interface Slice {
  latenciesMs: number[];
  errors: number;
  elapsedMs: number;
  processCpuMs: number;
  postgresCpuMs: number;
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
  return () => {
    let ticks = 0;
    for (const pid of pids()) {
      const fields = procStat(pid);
      if (!fields) continue;
      // From the state field on: ppid is at 1; utime, stime, cutime, cstime at 11 to 14.
      const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number) as [number, number, number, number];
      if (pid === postmaster) ticks += utime + stime + cutime + cstime;
      else if (fields[1] === postmaster) ticks += utime + stime;
    }
    return (ticks * 1000) / ticksPerSecond;
  };
}

// Closed loop: `concurrency` workers each send their next request as soon as
// the previous one answered, until the slice's time or request budget is spent.
async function runSlice(
  workload: Workload,
  concurrency: number,
  durationMs: number,
  maxRequests: number,
  errorLog: Map<string, string>,
  readCpu: () => CpuReading,
): Promise<Slice> {
  const latenciesMs: number[] = [];
  let errors = 0;
  let sent = 0;
  const cpuAtStart = readCpu();
  const startedAt = performance.now();
  const deadline = startedAt + durationMs;
  const worker = async () => {
    while (performance.now() < deadline && sent < maxRequests) {
      sent += 1;
      const callStarted = performance.now();
      try {
        await workload.call();
        latenciesMs.push(performance.now() - callStarted);
      } catch (err) {
        errors += 1;
        if (!errorLog.has(workload.name)) errorLog.set(workload.name, err instanceof Error ? err.message : String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - startedAt;
  const cpu = readCpu();
  return {
    latenciesMs,
    errors,
    elapsedMs,
    processCpuMs: cpu.processMs - cpuAtStart.processMs,
    postgresCpuMs: cpu.postgresMs - cpuAtStart.postgresMs,
  };
}

interface Point {
  workload: WorkloadName;
  concurrency: number;
  requests: number;
  errors: number;
  requestsPerSecond: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  // Each round's own p50, to show how much the machine's noise moves it.
  roundP50s: number[];
  processCpuMsPerCall: number;
  postgresCpuMsPerCall: number;
  // Cores this process and Postgres together kept busy on average.
  cpuCores: number;
}

function summarize(workload: WorkloadName, concurrency: number, slices: readonly Slice[]): Point {
  const all = slices.flatMap((s) => s.latenciesMs).sort((a, b) => a - b);
  const elapsedMs = slices.reduce((sum, s) => sum + s.elapsedMs, 0);
  const processCpuMs = slices.reduce((sum, s) => sum + s.processCpuMs, 0);
  const postgresCpuMs = slices.reduce((sum, s) => sum + s.postgresCpuMs, 0);
  const errors = slices.reduce((sum, s) => sum + s.errors, 0);
  return {
    workload,
    concurrency,
    requests: all.length,
    errors,
    requestsPerSecond: (all.length / elapsedMs) * 1000,
    p50: percentile(all, 50),
    p90: percentile(all, 90),
    p99: percentile(all, 99),
    max: all.at(-1) ?? Number.NaN,
    roundP50s: slices.map((s) => percentile([...s.latenciesMs].sort((a, b) => a - b), 50)),
    processCpuMsPerCall: processCpuMs / (all.length + errors),
    postgresCpuMsPerCall: postgresCpuMs / (all.length + errors),
    cpuCores: (processCpuMs + postgresCpuMs) / elapsedMs,
  };
}

interface SqlTrace {
  // The traced call's own latency.
  callMs: number;
  statements: number;
  transactions: number;
  // Summed from each statement's sending to its answer being handled.
  sqlMs: number;
  // "insert payments" → 1, in the order first seen.
  byKind: Map<string, number>;
}

// Statement kind and table, e.g. "insert payments", "select api_keys", "begin".
function statementKind(sql: string): string {
  const verb = sql.trim().split(/\s+/)[0]!.replace(/;$/, "").toLowerCase();
  const table = /\b(?:from|into|update)\s+"([^"]+)"/i.exec(sql)?.[1];
  return table ? `${verb} ${table}` : verb;
}

// Runs `call` with every SQL statement the app's pool sends recorded. Sequential
// probes keep other requests out; a background poll that happens to land in
// the window is what the median over probes irons out.
async function traceSql(app: OneRouter, call: () => Promise<void>): Promise<SqlTrace> {
  const trace: SqlTrace = { callMs: 0, statements: 0, transactions: 0, sqlMs: 0, byKind: new Map() };
  const started = new Map<string, number>();
  const onQuery = (q: { sql: string; __knexQueryUid: string }) => {
    started.set(q.__knexQueryUid, performance.now());
    const kind = statementKind(q.sql);
    trace.statements += 1;
    if (kind === "begin") trace.transactions += 1;
    trace.byKind.set(kind, (trace.byKind.get(kind) ?? 0) + 1);
  };
  const onDone = (_: unknown, q: { __knexQueryUid: string }) => {
    const t = started.get(q.__knexQueryUid);
    if (t !== undefined) trace.sqlMs += performance.now() - t;
  };
  app.db.knex.on("query", onQuery);
  app.db.knex.on("query-response", onDone);
  app.db.knex.on("query-error", onDone);
  const callStarted = performance.now();
  try {
    await call();
  } finally {
    trace.callMs = performance.now() - callStarted;
    app.db.knex.off("query", onQuery);
    app.db.knex.off("query-response", onDone);
    app.db.knex.off("query-error", onDone);
  }
  return trace;
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

async function main() {
  const runStarted = performance.now();
  const postgres = await startPostgres();
  if (!postgres) throw new Error("no PostgreSQL binaries found (pg_ctl and initdb on PATH or under /usr/lib/postgresql)");
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "onerouter-bench-"));
  let app: OneRouter | undefined;
  // Closing is not part of the measurement: bounded, then the process exits.
  const cleanUp = async () => {
    await Promise.race([app?.close(), new Promise((r) => setTimeout(r, 5000).unref())]).catch(() => undefined);
    await postgres.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  };
  // The benchmark stops by itself even if a call or the app hangs: twice the
  // planned time plus a minute, then Postgres is stopped and the process exits.
  const plannedMs =
    workloadNames.length * (settings.warmupMs + settings.rounds * settings.concurrency.length * settings.sliceMs) +
    workloadNames.length * (1 + settings.rounds * settings.concurrency.length) * settings.settleMs;
  const watchdog = setTimeout(() => {
    console.error(`the benchmark ran past ${Math.round((2 * plannedMs + 60_000) / 1000)} s; stopping`);
    void cleanUp().finally(() => process.exit(1));
  }, 2 * plannedMs + 60_000);
  watchdog.unref();
  try {
    const sandboxPort = await freePort();
    app = await startOneRouter(
      loadConfig({
        PORT: "0",
        HOST: "127.0.0.1",
        ONEROUTER_DATA_DIR: dataDir,
        LOG_LEVEL: "silent",
        DATABASE_URL: postgres.url,
        ONEROUTER_MASTER_KEY: randomBytes(32).toString("base64"),
        ONEROUTER_RATE_LIMIT_RPS: String(rateLimitRps),
        ONEROUTER_RATE_LIMIT_BURST: String(rateLimitRps),
        // Known, so the direct calls reach the very sandbox the app started.
        ONEROUTER_SANDBOX_PORT: String(sandboxPort),
      }),
      createLogger("silent"),
    );
    const postgresCpu = postgresCpuReader(Number(new URL(postgres.url).port));
    const readCpu = (): CpuReading => {
      const own = process.cpuUsage();
      return { processMs: (own.user + own.system) / 1000, postgresMs: postgresCpu() };
    };
    await measure(app, `http://127.0.0.1:${sandboxPort}`, readCpu, runStarted);
  } finally {
    await cleanUp();
  }
}

async function measure(app: OneRouter, sandboxUrl: string, readCpu: () => CpuReading, runStarted: number) {
  const { secret } = await createApiKey(app.db.knex, {
    tenantId: app.defaultTenantId,
    environment: Environment.TEST,
    name: "payments benchmark",
    createdBy: "bench",
  });
  const maxConcurrency = Math.max(...settings.concurrency);
  const authorize: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${secret}`);
    return next(req);
  };
  const baseUrl = `http://127.0.0.1:${app.server.port}`;
  const transport =
    settings.httpVersion === "2"
      ? createConnectTransport({ baseUrl, httpVersion: "2", interceptors: [authorize] })
      : createConnectTransport({
          baseUrl,
          httpVersion: "1.1",
          // Keep-alive, so the figures are the server's work and not TCP handshakes.
          nodeOptions: { agent: new http.Agent({ keepAlive: true, maxSockets: maxConcurrency }) },
          interceptors: [authorize],
        });
  const payments = createClient(PaymentService, transport);
  const apiKeys = createClient(ApiKeyService, transport);

  // The tenant's built-in sandbox account, as the platform itself would call it.
  const [account] = await app.accounts.listWithCredentials({
    tenantId: app.defaultTenantId,
    environment: "test",
    category: "payments",
  });
  if (!account || account.provider !== "sandbox") throw new Error("the default tenant has no sandbox payments account");
  const directContext: ConnectorContext = {
    credentials: account.credentials,
    settings: { base_url: sandboxUrl },
    timeoutMs: callTimeoutMs,
    transport: app.providerOutbound.transport({}, { base_url: sandboxUrl }),
  };

  const createPayment = async () => {
    const { payment } = await payments.createPayment(
      { amount: 1000n, currency: "USD" },
      { headers: { "Idempotency-Key": randomUUID() }, timeoutMs: callTimeoutMs },
    );
    if (payment?.status !== PaymentStatus.SUCCEEDED) throw new Error(`payment ended ${PaymentStatus[payment?.status ?? 0]}`);
  };
  const listApiKeys = async () => {
    await apiKeys.listApiKeys({ pageSize: 1 }, { timeoutMs: callTimeoutMs });
  };
  const workloads: Workload[] = [
    { name: "CreatePayment", call: createPayment },
    { name: "No-op (ListApiKeys)", call: listApiKeys },
    {
      name: "Sandbox connector direct",
      async call() {
        const result = await sandboxConnector.createPayment(directContext, {
          attemptId: newId("att"),
          paymentId: newId("pay"),
          amount: 1000n,
          currency: "USD",
          captureMethod: "automatic",
          metadata: {},
        });
        if (result.status !== "succeeded") throw new Error(`sandbox answered ${result.status}`);
      },
    },
  ];

  const errorLog = new Map<string, string>();
  const pause = () => new Promise((r) => setTimeout(r, settings.settleMs));
  for (const workload of workloads) {
    await runSlice(workload, maxConcurrency, settings.warmupMs, settings.sliceMaxRequests, new Map(), readCpu);
    await pause();
  }

  const rssBefore = process.memoryUsage().rss;
  const loadBefore = os.loadavg()[0]!;
  const slices = new Map<string, Slice[]>();
  const key = (name: WorkloadName, concurrency: number) => `${name}@${concurrency}`;
  for (let round = 0; round < settings.rounds; round++) {
    for (const [i, concurrency] of settings.concurrency.entries()) {
      // A different workload goes first each time, so none always inherits another's leftovers.
      const shift = (round + i) % workloads.length;
      for (const workload of [...workloads.slice(shift), ...workloads.slice(0, shift)]) {
        const slice = await runSlice(workload, concurrency, settings.sliceMs, settings.sliceMaxRequests, errorLog, readCpu);
        const point = key(workload.name, concurrency);
        slices.set(point, [...(slices.get(point) ?? []), slice]);
        await pause();
      }
    }
    console.error(`round ${round + 1}/${settings.rounds} done`);
  }
  const rssAfter = process.memoryUsage().rss;
  const loadAfter = os.loadavg()[0]!;

  const traces = { createPayment: [] as SqlTrace[], noop: [] as SqlTrace[] };
  for (let i = 0; i < settings.probes; i++) {
    await pause();
    traces.createPayment.push(await traceSql(app, createPayment));
    traces.noop.push(await traceSql(app, listApiKeys));
  }

  const points = settings.concurrency.flatMap((c) => workloads.map((w) => summarize(w.name, c, slices.get(key(w.name, c)) ?? [])));
  const postgresVersion = ((await app.db.knex.raw("show server_version")) as { rows: { server_version: string }[] }).rows[0]?.server_version;
  const counts = Object.fromEntries(
    await Promise.all(
      ["payments", "payment_attempts", "outbox_events", "idempotency_keys", "inbound_provider_events"].map(
        async (table) => [table, Number(((await app.db.knex(table).count({ n: "*" })) as { n: string }[])[0]?.n)] as const,
      ),
    ),
  );
  const report = renderReport({
    points,
    traces,
    errorLog,
    rssBefore,
    rssAfter,
    loadBefore,
    loadAfter,
    counts,
    postgresVersion: postgresVersion ?? "unknown",
    runSeconds: (performance.now() - runStarted) / 1000,
  });
  writeFileSync(reportFile, report);
  console.log(report);
}

interface ReportInput {
  points: Point[];
  traces: { createPayment: SqlTrace[]; noop: SqlTrace[] };
  errorLog: Map<string, string>;
  rssBefore: number;
  rssAfter: number;
  // One-minute load averages of the machine around the timed rounds.
  loadBefore: number;
  loadAfter: number;
  counts: Record<string, number>;
  postgresVersion: string;
  runSeconds: number;
}

function renderReport(input: ReportInput): string {
  const { points } = input;
  const cpus = os.cpus();
  const find = (workload: WorkloadName, concurrency: number) => points.find((p) => p.workload === workload && p.concurrency === concurrency)!;
  const sql = {
    createPayment: medianTrace(input.traces.createPayment),
    noop: medianTrace(input.traces.noop),
  };
  const lines: string[] = [];
  const out = (...text: string[]) => lines.push(...text);

  out(
    "# Payments benchmark",
    "",
    `Generated by \`npm run bench:payments\` (bench/payments/run.ts) on ${new Date().toISOString()}; each run overwrites this file.`,
    "",
    "## Machine",
    "",
    `- CPU: ${cpus[0]?.model.trim() ?? "unknown"} × ${cpus.length}`,
    `- OS: ${os.type()} ${os.release()} (${os.arch()}), ${mb(os.totalmem())} memory`,
    `- Node.js: ${process.version}`,
    `- PostgreSQL: ${input.postgresVersion}, a throw-away local cluster (test/infra.ts: fsync off, so commits cost less than on a durable server)`,
    `- Load average (1 min): ${input.loadBefore.toFixed(1)} before the timed rounds, ${input.loadAfter.toFixed(1)} after, on ${cpus.length} cores; anything above ${cpus.length} is other work on the shared machine competing with this run`,
    `- Whole run: ${input.runSeconds.toFixed(0)} s`,
    "",
    "## Setup",
    "",
    `OneRouter runs in this process against Postgres over loopback (pool of 10 connections), with the rate limiter raised to ${rateLimitRps} requests/s so it never refuses. The client is in the same process too: all of it, plus Postgres, shares the ${cpus.length} CPU cores.`,
    "",
    `- **CreatePayment**: \`PaymentService.CreatePayment\` { amount 1000, currency USD } with a fresh Idempotency-Key per call, through the Connect protocol (binary) with @connectrpc/connect-node over HTTP/${settings.httpVersion} with keep-alive, routed to the tenant's built-in sandbox account. Counted as an error unless the payment comes back SUCCEEDED.`,
    "- **No-op (ListApiKeys)**: `ApiKeyService.ListApiKeys` { page_size 1 } on the same server, client and key: the cheapest unary method that passes the gatekeeper (API-key lookup by hash, scope check, rate limiter) and does one indexed read. The health service would be cheaper, but it skips authentication, so it would leave out a cost every CreatePayment pays.",
    "- **Sandbox connector direct**: `sandboxConnector.createPayment` with the same account's credentials against the very sandbox provider the app started — the provider HTTP call a CreatePayment makes, without the platform. The platform's call also asks the sandbox for a webhook back, which the server handles while the benchmark runs; the direct call does not.",
    "",
    `Schedule: after a ${settings.warmupMs} ms unrecorded warm-up per workload, ${settings.rounds} round(s); in each, every concurrency level (${settings.concurrency.join(", ")}) runs each workload for a ${settings.sliceMs} ms slice (at most ${settings.sliceMaxRequests} requests), closed loop, with the order of workloads rotating and a ${settings.settleMs} ms pause after each slice. Latencies are of successful calls, in milliseconds; requests/s is successful calls over the slices' wall time. CPU is user + system time per call, of this process (client, server and sandbox together) and of the Postgres server's processes (from /proc, in clock ticks), and the cores both kept busy together.`,
    "",
    "## Results",
    "",
    "| Workload | Concurrency | Requests | Errors | Requests/s | p50 | p90 | p99 | Max | p50 by round (min–max) | CPU ms/call, this process | CPU ms/call, Postgres | Cores busy |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const p of points) {
    out(
      `| ${p.workload} | ${p.concurrency} | ${p.requests} | ${p.errors} | ${p.requestsPerSecond.toFixed(0)} | ${ms(p.p50)} | ${ms(p.p90)} | ${ms(p.p99)} | ${ms(p.max)} | ${ms(Math.min(...p.roundP50s))}–${ms(Math.max(...p.roundP50s))} | ${ms(p.processCpuMsPerCall)} | ${ms(p.postgresCpuMsPerCall)} | ${p.cpuCores.toFixed(2)} |`,
    );
  }
  if (input.errorLog.size > 0) {
    out("", "First error of each workload:", "");
    for (const [name, message] of input.errorLog) out(`- ${name}: ${message}`);
  }

  out(
    "",
    "## Platform overhead",
    "",
    "Overhead is CreatePayment's latency minus the direct connector call's, at the same percentile; the ratio divides them.",
    "",
    "| Concurrency | CreatePayment p50 | Direct p50 | Overhead p50 | Ratio p50 | CreatePayment p99 | Direct p99 | Overhead p99 | Ratio p99 | Requests/s CreatePayment ÷ direct |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const c of settings.concurrency) {
    const pay = find("CreatePayment", c);
    const direct = find("Sandbox connector direct", c);
    out(
      `| ${c} | ${ms(pay.p50)} | ${ms(direct.p50)} | ${ms(pay.p50 - direct.p50)} | ${ratio(pay.p50, direct.p50)} | ${ms(pay.p99)} | ${ms(direct.p99)} | ${ms(pay.p99 - direct.p99)} | ${ratio(pay.p99, direct.p99)} | ${ratio(pay.requestsPerSecond, direct.requestsPerSecond)} |`,
    );
  }

  out(
    "",
    "## Where a CreatePayment's time goes",
    "",
    `SQL of ${input.traces.createPayment.length} sequential calls of each Connect workload, traced after the timed rounds (medians): a CreatePayment took ${ms(sql.createPayment.callMs)} ms, ${ms(sql.createPayment.sqlMs)} ms of it inside the round trips of ${sql.createPayment.statements} statements in ${sql.createPayment.transactions} transactions, from sending each to its answer being handled, so Node.js's own queueing counts too (the window also catches the sandbox's webhook back to the server when it lands before the answer); a no-op took ${ms(sql.noop.callMs)} ms, ${ms(sql.noop.sqlMs)} ms of it for ${sql.noop.statements} statements. One typical CreatePayment, by statement:`,
    "",
    "| Statement | Count |",
    "|---|---:|",
  );
  for (const [kind, count] of sql.createPayment.typical.byKind) out(`| ${kind} | ${count} |`);

  out("", "## Interpretation", "", interpretation(input, find, sql), "");
  out(
    "## Memory and rows",
    "",
    `- Process RSS (server, sandbox and client together; Postgres is separate): ${mb(input.rssBefore)} before the timed rounds, ${mb(input.rssAfter)} after; the in-process sandbox keeps every payment it takes in memory, the direct calls' included.`,
    `- Rows at the end: ${Object.entries(input.counts)
      .map(([table, n]) => `${table} ${n}`)
      .join(", ")}.`,
    "",
  );
  return lines.join("\n");
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

function interpretation(
  input: ReportInput,
  find: (workload: WorkloadName, concurrency: number) => Point,
  sql: { createPayment: MedianTrace; noop: MedianTrace },
): string {
  const cores = os.cpus().length;
  const low = Math.min(...settings.concurrency);
  const high = Math.max(...settings.concurrency);
  const payLow = find("CreatePayment", low);
  const directLow = find("Sandbox connector direct", low);
  const noopLow = find("No-op (ListApiKeys)", low);
  const payHigh = find("CreatePayment", high);
  const directHigh = find("Sandbox connector direct", high);
  const noopHigh = find("No-op (ListApiKeys)", high);
  const trace = sql.createPayment;
  const webhookInWindow = trace.typical.byKind.has("insert inbound_provider_events");
  const machineBusy = Math.max(input.loadBefore, input.loadAfter) > cores;
  const spread = (p: Point) => (Math.max(...p.roundP50s) - Math.min(...p.roundP50s)) / p.p50;
  const noisiest = [...input.points].sort((a, b) => spread(b) - spread(a))[0]!;
  const sparsest = [...input.points].sort((a, b) => a.requests - b.requests)[0]!;
  const noise =
    settings.rounds > 1
      ? `Between rounds the p50 of ${noisiest.workload} at concurrency ${noisiest.concurrency} moved from ${ms(Math.min(...noisiest.roundP50s))} to ${ms(Math.max(...noisiest.roundP50s))} ms, so differences within the "p50 by round" ranges are noise`
      : "With a single round there is no spread between rounds to judge the noise by";
  return [
    `At concurrency ${low}, a CreatePayment takes ${ms(payLow.p50)} ms at p50 and the same sandbox call made directly ${ms(directLow.p50)} ms, so the platform adds ${ms(payLow.p50 - directLow.p50)} ms (${ratio(payLow.p50, directLow.p50)} the direct call's latency), and ${ms(payLow.p99 - directLow.p99)} ms at p99.`,
    `About ${ms(noopLow.p50)} ms of that is what any authenticated Connect call costs here (HTTP and Connect framing, the API-key lookup, the rate limiter, one read), as the no-op shows; the rest goes to ${trace.statements} SQL statements in ${trace.transactions} transactions — claiming the Idempotency-Key and storing the answer, writing the payment with its payment.created outbox event, loading the routing profile and decrypting the account's credentials, inserting the attempt, settling attempt and payment with the payment.succeeded event — whose round trips took ${ms(trace.sqlMs)} of ${ms(trace.callMs)} ms (${((100 * trace.sqlMs) / trace.callMs).toFixed(0)} %) in the traced calls${webhookInWindow ? ", a window that also holds the sandbox's webhook being recorded" : ""}.`,
    `Postgres itself spent ${ms(payLow.postgresCpuMsPerCall)} ms of CPU per payment against ${ms(payLow.processCpuMsPerCall)} ms in this process (client, server, the sandbox and the webhook it sends back; ${ms(noopLow.processCpuMsPerCall)} ms for the no-op, ${ms(directLow.processCpuMsPerCall)} ms for the direct call), ${payLow.processCpuMsPerCall > 2 * payLow.postgresCpuMsPerCall ? "so the platform's cost is mostly work in this Node.js process — around its statements, its events and the webhook's extra HTTP hop — and the event loop's queue, rather than Postgres executing the statements" : "so the platform's cost is shared between Postgres executing the statements and this Node.js process's work around them"}.`,
    `At concurrency ${high}, CreatePayment reaches ${payHigh.requestsPerSecond.toFixed(0)} requests/s (${payLow.requestsPerSecond.toFixed(0)} at concurrency ${low}) against ${noopHigh.requestsPerSecond.toFixed(0)} for the no-op and ${directHigh.requestsPerSecond.toFixed(0)} for the direct call, with p99 ${ms(payHigh.p99)} ms against ${ms(directHigh.p99)} ms; this process and Postgres together kept ${payHigh.cpuCores.toFixed(2)} of the ${cores} cores busy, ${machineBusy ? `while other work on the machine (load average ${input.loadBefore.toFixed(1)} before and ${input.loadAfter.toFixed(1)} after the timed rounds) competed for them, so this ceiling most likely reflects the CPU the run could get, not a deployment's capacity` : `the load average being ${input.loadBefore.toFixed(1)} before and ${input.loadAfter.toFixed(1)} after the timed rounds`}.`,
    `${noise}, and the tails (p99, max) rest on as few as ${sparsest.requests} samples (${sparsest.workload} at concurrency ${sparsest.concurrency}).`,
  ].join(" ");
}

// Exits explicitly: closing the app is bounded in main, and nothing left
// behind (pools, timers) may keep a finished benchmark alive.
main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
