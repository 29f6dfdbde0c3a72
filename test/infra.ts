import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, chownSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

// Real Postgres and NATS servers for the test suite, started from the
// machine's binaries in throw-away folders.

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function findPostgresBin(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (existsSync(path.join(dir, "pg_ctl")) && existsSync(path.join(dir, "initdb"))) return dir;
  }
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const dir = path.join(root, v, "bin");
    if (existsSync(path.join(dir, "pg_ctl"))) return dir;
  }
  return undefined;
}

export function findExecutable(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    const candidate = path.join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

export interface StartedServer {
  url: string;
  stop(): Promise<void>;
}

// Postgres refuses to run as root, so as root the cluster belongs to the
// `postgres` user that Debian's package creates.
function asPostgresUser(command: string, args: string[]): [string, string[]] {
  if (process.getuid?.() === 0) return ["runuser", ["-u", "postgres", "--", command, ...args]];
  return [command, args];
}

export interface PostgresServer extends StartedServer {
  // Stops the server at once (as a crash would), keeping its data.
  halt(): Promise<void>;
  // Starts it again on the same port and data.
  resume(): Promise<void>;
}

// statementStats loads pg_stat_statements (planning times included), for
// benchmarks that report what each statement costs Postgres.
export async function startPostgres(options: { statementStats?: boolean } = {}): Promise<PostgresServer | undefined> {
  const bin = findPostgresBin();
  if (!bin) return undefined;
  const dir = mkdtempSync(path.join(os.tmpdir(), "onerouter-pg-"));
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(dir, uid, gid);
  }
  const port = await freePort();
  const run = (cmd: string, args: string[]) => {
    const [c, a] = asPostgresUser(path.join(bin, cmd), args);
    execFileSync(c, a, { stdio: "pipe" });
  };
  const data = path.join(dir, "data");
  run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  const statementStats = options.statementStats
    ? " -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on"
    : "";
  const start = () =>
    run("pg_ctl", [
      "-D", data, "-l", path.join(dir, "log"), "-w",
      "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200${statementStats}`,
      "start",
    ]);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async halt() {
      run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
    },
    async resume() {
      start();
    },
    async stop() {
      try {
        run("pg_ctl", ["-D", data, "-m", "immediate", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export interface NatsServer extends StartedServer {
  process: ChildProcess;
  port: number;
  storeDir: string;
}

export async function startNats(options: { port?: number; storeDir?: string } = {}): Promise<NatsServer | undefined> {
  const exe = findExecutable("nats-server");
  if (!exe) return undefined;
  const storeDir = options.storeDir ?? mkdtempSync(path.join(os.tmpdir(), "onerouter-nats-"));
  const port = options.port ?? (await freePort());
  const child = spawn(exe, ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", storeDir], { stdio: "ignore" });
  await waitForPort(port);
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    process: child,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
}
