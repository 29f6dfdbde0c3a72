import { fork, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";

// What the benchmarks share: their env knobs, /proc readings, memory
// readings, their helper processes and the statistics and number formats of
// their reports.

export function wholeNumber(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number ≥ ${min} (got "${raw}")`);
  return value;
}

// A comma-separated list of whole numbers from `min` to `max`.
export function wholeNumberList(name: string, fallback: string, min: number, max: number): number[] {
  const raw = process.env[name] ?? fallback;
  const values = raw.split(",").map((s) => Number(s.trim()));
  if (values.some((n) => !Number.isInteger(n) || n < min || n > max)) {
    throw new Error(`${name} must be comma-separated whole numbers from ${min} to ${max} (got "${raw}")`);
  }
  return values;
}

// Fields of /proc/<pid>/stat from the third (state) on — the second, the
// command name in parentheses, may itself hold spaces; undefined when the
// process is gone or there is no /proc.
export function procStat(pid: string): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

// Nearest-rank percentile of ascending values.
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const ascending = (values: readonly number[]) => [...values].sort((a, b) => a - b);
export const median = (values: readonly number[]) => percentile(ascending(values), 50);
export const ms = (v: number) => (Number.isNaN(v) ? "–" : v.toFixed(v < 10 ? 2 : 1));
export const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

export const mebibytes = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

// This process's memory at its highest RSS from now to stop(), read every 250 ms.
export function watchMemory(): { stop(): NodeJS.MemoryUsage } {
  let peak = process.memoryUsage();
  const sampler = setInterval(() => {
    const now = process.memoryUsage();
    if (now.rss > peak.rss) peak = now;
  }, 250);
  return {
    stop() {
      clearInterval(sampler);
      return peak;
    },
  };
}

// What a process.memoryUsage() reading says held the RSS. External memory
// counts when allocated, RSS only once touched, so the rest may come out small.
export function memoryParts(usage: NodeJS.MemoryUsage): string {
  const rest = usage.rss - usage.heapTotal - usage.external;
  return `V8's heap ${mebibytes(usage.heapTotal)} committed (${mebibytes(usage.heapUsed)} in use), external memory ${mebibytes(usage.external)} (${mebibytes(usage.arrayBuffers)} of it array buffers), the rest ${mebibytes(rest)} (node's code, malloc's arenas, thread stacks)`;
}

// Names of the process settings the image gives OneRouter (the Dockerfile's
// ENV), which bench/built.ts starts the measured process with.
export const imageSettingNames = ["LD_PRELOAD", "NODE_OPTIONS"];

// Those settings as this process started with them, before
// keepPreloadsToThisProcess takes LD_PRELOAD out of its environment.
const startedWith = Object.fromEntries(imageSettingNames.map((name) => [name, process.env[name]]));

// The shared objects the image preloads into OneRouter's process (the
// Dockerfile's LD_PRELOAD: jemalloc) stay this process's: what it starts
// (Postgres, nats-server, the load generator, the sandbox) is not OneRouter
// and runs as the machine runs it. The loader skips a preload it cannot
// find with a warning only, so a machine without it fails here instead of
// measuring another allocator.
export function keepPreloadsToThisProcess(): void {
  delete process.env.LD_PRELOAD;
  if (!startedWith.LD_PRELOAD) return;
  const maps = readFileSync("/proc/self/maps", "utf8");
  const missing = startedWith.LD_PRELOAD.split(/[:\s]+/).filter((name) => name !== "" && !maps.includes(`/${path.basename(name)}\n`));
  if (missing.length > 0) {
    throw new Error(`OneRouter's image preloads ${missing.join(", ")} (the Dockerfile's LD_PRELOAD), which this machine lacks: install it (jemalloc is Debian's libjemalloc2) to measure OneRouter as the image runs it`);
  }
}

// How this process was started: built by bench/built.ts with the image's
// settings, as \`npm run <script>\` runs it, or straight from TypeScript;
// either way the benchmark limits V8's heap growth as the server commands
// do on the same database (`heapGrowingPercent`, as limitHeapGrowth set it).
export function processDescription(script: string, heapGrowingPercent: number): string {
  const flags = process.execArgv.length > 0 ? `, node's flags ${process.execArgv.join(" ")}` : "";
  const growth = `V8's old generation growing to at most ${1 + heapGrowingPercent / 100} times what survived its last full collection (as \`onerouter start\` and \`serve\` set it on this database)`;
  const settings = imageSettingNames.map((name) => `${name}=${startedWith[name] ?? "(unset)"}`).join(", ") + flags + `, ${growth}`;
  return process.env.ONEROUTER_BENCH_BUILT === "1"
    ? `bundled as the CLI is and run by plain node (no TypeScript loader), with the image's settings: ${settings}`
    : `run from TypeScript through tsx, whose loader thread and transpiled sources add about 80 MiB the product never holds (${settings}); \`npm run ${script}\` runs it built`;
}

// A benchmark's helper process (a TypeScript script run under tsx), spoken
// to over IPC one message at a time: each request is answered by the next
// message, and a wait for one fails if the process exits first.
export class IpcChild<Request, Reply> {
  private waiting: { resolve: (reply: Reply) => void; reject: (err: Error) => void } | undefined;

  private constructor(
    readonly process: ChildProcess,
    private readonly name: string,
  ) {
    process.on("message", (reply: Reply) => this.settle()?.resolve(reply));
    process.on("exit", (code) => this.settle()?.reject(new Error(`${name} exited (${code})`)));
  }

  // `name` is what errors call it ("the load generator").
  static fork<Request, Reply>(script: string, name: string, env?: NodeJS.ProcessEnv): IpcChild<Request, Reply> {
    const child = fork(script, [], { execArgv: ["--import", "tsx"], env, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    return new IpcChild(child, name);
  }

  // The next message, such as the one a script sends when it is ready.
  next(): Promise<Reply> {
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  ask(request: Request): Promise<Reply> {
    const answer = this.next();
    this.send(request);
    return answer;
  }

  // A message that is not answered.
  send(request: Request): void {
    this.process.send(request as object);
  }

  private settle() {
    const waiting = this.waiting;
    this.waiting = undefined;
    return waiting;
  }
}
