import { closeSync, openSync, readSync } from "node:fs";
import { PerformanceObserver, type PerformanceEntry } from "node:perf_hooks";
import { deserialize } from "node:v8";
import { Worker } from "node:worker_threads";
import type { Results } from "@electric-sql/pglite";

// PGlite runs its statements synchronously in WebAssembly, so in the main
// thread a statement stops the event loop for as long as it runs (tens of
// milliseconds under load, whole seconds for a checkpoint). Here it runs in
// a worker thread (pglite-worker.cjs) and the main thread holds this proxy:
// the part of PGlite's surface that knex-pglite and the change notices use.
// Transactions still run on the one connection: knex's pool for PGlite has
// a single connection and sends BEGIN, statements and COMMIT through it.

export interface PGliteThreadOptions {
  // Unset: in memory.
  dataDir?: string;
  // A data folder's tarball (dumpDataDir) to start from instead of initdb; for a folder not created yet.
  templateFile?: string;
  // Postgres settings ("name=value") on top of PGlite's own.
  settings?: string[];
}

// The thread's JavaScript keeps little alive: its data lives in PGlite's
// WebAssembly memory, and each statement's messages and answer are garbage
// once sent. V8 still grew its young generation to the process's default
// (28 MiB committed under bench/payments' load); one of 6 MiB holds a
// statement's garbage many times over.
const threadYoungGenerationMb = 6;

type Notify = (payload: string) => void;

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

type WorkerMessage =
  // result: the answer as v8.serialize wrote it.
  | { id: number; result: Uint8Array }
  | { id: number; error: Record<string, unknown> }
  | { channel: string; payload: string };

// The main thread's own time on database calls, each a stretch the event
// loop stands still for; the statements themselves run in the thread
// meanwhile. Handing a call over (postMessage) wakes the thread, which as a
// batch thread (pglite-worker.cjs) does not take the main thread's core.
export interface MainThreadCost {
  handing: MainThreadStretches;
  // Reading answers back (v8.deserialize).
  reading: MainThreadStretches;
}

export interface MainThreadStretches {
  count: number;
  // Wall time.
  longestMs: number;
  totalMs: number;
  // Once countTimeOnCpu() is on, the time the main thread ran on a core, apart
  // from the time it waited for one (preempted by another thread or
  // process): of the longest stretch, the most of any one stretch, and in all.
  longestStretchOnCpuMs?: number;
  longestOnCpuMs?: number;
  totalOnCpuMs?: number;
  // Once countTimeOnCpu() is on, the most of any one stretch the database can
  // account for (databasePartMs): of the longest stretch, and the most of any.
  longestStretchDatabaseMs?: number;
  longestDatabaseMs?: number;
}

// A stretch as measured, and a garbage collection's pause in the main
// thread, both on the clock of performance.now().
export interface TimedStretch {
  startMs: number;
  wallMs: number;
  onCpuMs: number;
  // How long the database's thread was busy meanwhile.
  databaseBusyMs: number;
}

export interface CollectionPause {
  startMs: number;
  endMs: number;
}

// The part of a stretch that the database accounts for: the main thread's
// time on a core, less its garbage collections within the stretch (the
// server's heap, collected whenever an allocation finds it full), plus the
// time the database's thread was busy meanwhile, which is all the core it can
// have taken from the main thread. The rest, the main thread waited for a
// core that other threads and processes had.
export function databasePartMs(stretch: TimedStretch, pauses: readonly CollectionPause[]): number {
  const endMs = stretch.startMs + stretch.wallMs;
  let collectingMs = 0;
  for (const pause of pauses) collectingMs += Math.max(0, Math.min(endMs, pause.endMs) - Math.max(stretch.startMs, pause.startMs));
  return Math.max(0, Math.min(stretch.wallMs - collectingMs, Math.max(0, stretch.onCpuMs - collectingMs) + stretch.databaseBusyMs));
}

// How long the calling thread has waited for a core so far, in ms: Linux's
// scheduler statistics (/proc/thread-self/schedstat: nanoseconds run,
// nanoseconds waited runnable, time slices). The wait is added when the
// thread gets a core back, so a stretch's waits are all in once it ends; the
// run time of a running thread is only brought up to date at the scheduler's
// tick, so it is taken as the rest of the stretch. One read costs a few
// microseconds.
class ThreadWaitClock {
  private readonly fd = openSync("/proc/thread-self/schedstat", "r");
  private readonly text = Buffer.alloc(64);

  waitedMs(): number {
    const length = readSync(this.fd, this.text, 0, this.text.length, 0);
    return Number(this.text.toString("latin1", 0, length).split(" ", 2)[1]) / 1e6;
  }

  close(): void {
    closeSync(this.fd);
  }
}

// How long the database's thread has been busy with calls so far, in ms of
// wall time (so any wait of its own for a core counts too). The thread keeps
// it in one number both threads share (pglite-worker.cjs), in microseconds of
// the monotonic clock every thread of the process shares: while idle, its
// busy time so far; while busy, that time minus when it became busy, negated.
class DatabaseBusyClock {
  private readonly state: BigInt64Array;

  constructor(shared: SharedArrayBuffer) {
    this.state = new BigInt64Array(shared);
  }

  busyMs(): number {
    const state = Atomics.load(this.state, 0);
    return Number(state >= 0n ? state : process.hrtime.bigint() / 1000n + state) / 1000;
  }
}

interface StretchStart {
  wallMs: number;
  waitedMs: number;
  databaseBusyMs: number;
}

interface StretchClocks {
  wait: ThreadWaitClock;
  database: DatabaseBusyClock;
  // The main thread's garbage collections since the last take, which
  // PerformanceObserver reports after the fact.
  pauses: CollectionPause[];
  collections: PerformanceObserver;
}

// Past this, a stretch's database part waits for the collections within it.
const settledDatabasePartMs = 1;

// One side's stretches until the next take.
class StretchCount {
  private readonly stretches: MainThreadStretches;
  private longest: TimedStretch | undefined;
  // The stretches whose database part may be over settledDatabasePartMs.
  private readonly unsettled: TimedStretch[] = [];
  private longestSettledMs = 0;

  constructor(onCpu: boolean) {
    this.stretches = { count: 0, longestMs: 0, totalMs: 0, ...(onCpu && { longestStretchOnCpuMs: 0, longestOnCpuMs: 0, totalOnCpuMs: 0 }) };
  }

  add(started: StretchStart, clocks: StretchClocks | undefined): void {
    const { stretches } = this;
    const ms = performance.now() - started.wallMs;
    stretches.count += 1;
    stretches.totalMs += ms;
    const longest = ms > stretches.longestMs;
    if (longest) stretches.longestMs = ms;
    if (!clocks) return;
    const onCpuMs = Math.max(0, ms - (clocks.wait.waitedMs() - started.waitedMs));
    const stretch = { startMs: started.wallMs, wallMs: ms, onCpuMs, databaseBusyMs: clocks.database.busyMs() - started.databaseBusyMs };
    stretches.totalOnCpuMs = (stretches.totalOnCpuMs ?? 0) + onCpuMs;
    if (longest) {
      stretches.longestStretchOnCpuMs = onCpuMs;
      this.longest = stretch;
    }
    if (onCpuMs > (stretches.longestOnCpuMs ?? 0)) stretches.longestOnCpuMs = onCpuMs;
    // With no collection taken out: the most it can be.
    const mostMs = databasePartMs(stretch, []);
    if (mostMs > settledDatabasePartMs) this.unsettled.push(stretch);
    else if (mostMs > this.longestSettledMs) this.longestSettledMs = mostMs;
  }

  take(pauses: readonly CollectionPause[] | undefined): MainThreadStretches {
    if (!pauses) return this.stretches;
    const unsettledMs = this.unsettled.map((stretch) => databasePartMs(stretch, pauses));
    return {
      ...this.stretches,
      longestStretchDatabaseMs: this.longest ? databasePartMs(this.longest, pauses) : 0,
      longestDatabaseMs: unsettledMs.reduce((most, ms) => Math.max(most, ms), this.longestSettledMs),
    };
  }
}

class CostCount {
  readonly handing: StretchCount;
  readonly reading: StretchCount;

  constructor(onCpu: boolean) {
    this.handing = new StretchCount(onCpu);
    this.reading = new StretchCount(onCpu);
  }
}

const collectionPause = (entry: PerformanceEntry): CollectionPause => ({ startMs: entry.startTime, endMs: entry.startTime + entry.duration });

// The error as PGlite raised it in the worker: message, SQLSTATE code,
// constraint, detail and the rest of its fields.
function rebuildError(fields: Record<string, unknown>): Error {
  const { message, name, ...rest } = fields;
  const err = Object.assign(new Error(String(message)), rest);
  if (typeof name === "string" && name !== "Error") err.name = name;
  return err;
}

export class PGliteThread {
  // Ready at once: statements wait in the thread until PGlite has started
  // and fail with its error if it cannot, since knex's pool gives opening
  // its connection (waitReady) 30 s, less than a first start (initdb) can
  // take on a busy machine.
  readonly waitReady = Promise.resolve();

  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Map<string, Set<Notify>>();
  private nextId = 0;
  // A BEGIN answered here and not sent yet: it goes with the next call.
  private beginDeferred = false;
  // Set once the worker has gone: every later call fails with it.
  private gone: Error | undefined;
  private closing = false;
  private cost = new CostCount(false);
  private readonly busyClock: DatabaseBusyClock;
  private clocks: StretchClocks | undefined;

  constructor(options: PGliteThreadOptions = {}) {
    const busyTime = new SharedArrayBuffer(8);
    this.busyClock = new DatabaseBusyClock(busyTime);
    this.worker = new Worker(new URL("./pglite-worker.cjs", import.meta.url), {
      workerData: { ...options, busyTime },
      resourceLimits: { maxYoungGenerationSizeMb: threadYoungGenerationMb },
    });
    // Held open only while a call waits for its answer, like a socket with a request in flight.
    this.worker.unref();
    this.worker.on("message", (message: WorkerMessage) => this.receive(message));
    this.worker.on("error", (err) => this.end(err));
    this.worker.on("exit", (code) => this.end(Object.assign(new Error(`the embedded database's thread exited (${code})`), { code: "08006" })));
  }

  get closed(): boolean {
    return this.closing;
  }

  // What the calls cost the main thread since the last take.
  takeMainThreadCost(): MainThreadCost {
    const taken = this.cost;
    this.cost = new CostCount(this.clocks !== undefined);
    const pauses = this.clocks && [...this.clocks.pauses, ...this.clocks.collections.takeRecords().map(collectionPause)];
    if (this.clocks) this.clocks.pauses = [];
    return { handing: taken.handing.take(pauses), reading: taken.reading.take(pauses) };
  }

  // How long the database's thread has been busy with calls since it started, in ms of wall time.
  databaseBusyMs(): number {
    return this.busyClock.busyMs();
  }

  // Splits each stretch from now on into time on a core and time waiting for
  // one, and counts the database's part of it (four reads of the thread's
  // scheduler statistics per call, so for measuring only). Called on the
  // thread that makes the calls; fails where Linux's scheduler statistics
  // cannot be read.
  countTimeOnCpu(): void {
    if (!this.clocks) {
      const collections = new PerformanceObserver((list) => clocks.pauses.push(...list.getEntries().map(collectionPause)));
      const clocks: StretchClocks = { wait: new ThreadWaitClock(), database: this.busyClock, pauses: [], collections };
      collections.observe({ entryTypes: ["gc"] });
      this.clocks = clocks;
    }
    this.cost = new CostCount(true);
  }

  private stretchStart(): StretchStart {
    if (!this.clocks) return { wallMs: performance.now(), waitedMs: 0, databaseBusyMs: 0 };
    return { wallMs: performance.now(), waitedMs: this.clocks.wait.waitedMs(), databaseBusyMs: this.clocks.database.busyMs() };
  }

  query<T>(sql: string, params?: unknown[], options?: Record<string, unknown>): Promise<Results<T>> {
    if (sql === "BEGIN;" && !params?.length && !options && !this.gone) {
      // knex opens each transaction with a plain BEGIN and waits for its
      // (empty) answer before the first statement: the thread runs it just
      // before the next call instead, so a transaction costs one round trip
      // fewer. Its failure, if it ever fails, is that next call's.
      this.beginDeferred = true;
      return Promise.resolve({ rows: [], fields: [], affectedRows: 0 });
    }
    // runPrepared gives its values with the statement's name, as node-postgres takes them.
    if (options && Array.isArray(options.values)) {
      const { values, ...rest } = options;
      return this.call("query", { sql, params: values, options: rest }) as Promise<Results<T>>;
    }
    return this.call("query", { sql, params, options }) as Promise<Results<T>>;
  }

  exec(sql: string, options?: Record<string, unknown>): Promise<Results[]> {
    return this.call("exec", { sql, options }) as Promise<Results[]>;
  }

  // Resolves once the worker listens; the returned function stops this callback.
  async listen(channel: string, callback: Notify): Promise<() => Promise<void>> {
    const callbacks = this.listeners.get(channel) ?? new Set();
    this.listeners.set(channel, callbacks);
    callbacks.add(callback);
    try {
      await this.call("listen", { channel });
    } catch (err) {
      callbacks.delete(callback);
      throw err;
    }
    return () => this.unlisten(channel, callback);
  }

  async unlisten(channel: string, callback?: Notify): Promise<void> {
    const callbacks = this.listeners.get(channel);
    if (callback) callbacks?.delete(callback);
    if (callbacks && callback && callbacks.size > 0) return;
    this.listeners.delete(channel);
    await this.call("unlisten", { channel });
  }

  async dumpDataDir(compression?: "gzip" | "none" | "auto"): Promise<Blob> {
    return new Blob([(await this.call("dumpDataDir", { compression })) as Uint8Array<ArrayBuffer>]);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    try {
      if (!this.gone) await this.call("close", {});
    } finally {
      this.clocks?.wait.close();
      this.clocks?.collections.disconnect();
      this.clocks = undefined;
      await this.worker.terminate();
    }
  }

  private call(op: string, message: Record<string, unknown>): Promise<unknown> {
    if (this.gone) return Promise.reject(this.gone);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const started = this.stretchStart();
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, ...message, ...(this.beginDeferred && { begin: true }) });
      this.beginDeferred = false;
      this.cost.handing.add(started, this.clocks);
    });
  }

  private receive(message: WorkerMessage) {
    if ("id" in message) {
      const started = this.stretchStart();
      const waiting = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (this.pending.size === 0) this.worker.unref();
      if ("error" in message) waiting?.reject(rebuildError(message.error));
      else waiting?.resolve(deserialize(message.result));
      this.cost.reading.add(started, this.clocks);
    } else {
      for (const notify of this.listeners.get(message.channel) ?? []) notify(message.payload);
    }
  }

  private end(err: Error) {
    this.gone ??= err;
    for (const waiting of this.pending.values()) waiting.reject(this.gone);
    this.pending.clear();
  }
}
