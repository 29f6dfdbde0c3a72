import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

// The CLI as separate processes, for tests: a server that holds a data
// folder, and commands run beside it.

const repoRoot = path.resolve(import.meta.dirname, "../../..");
export const cliPath = path.join(repoRoot, "services/server/bin/onerouter.js");

export function runCli(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [cliPath, ...args], {
    env: { ...process.env, LOG_LEVEL: "warn", ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
}

// The same, without blocking this process (a server in it may need to answer).
export function runCliAsync(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, LOG_LEVEL: "warn", ...env } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once("exit", (status) => resolve({ status, stdout, stderr })));
}

export interface ServerProcess {
  child: ChildProcessWithoutNullStreams;
  pid: number;
  port: number;
  url: string;
  logs(): string;
  stop(signal?: NodeJS.Signals): Promise<string>;
}

// `onerouter start` (or dev) on `dataDir`, once it listens. With `terminal`,
// its output is a terminal, as when a person runs it: util-linux's script(1)
// gives it a pseudo-terminal, and `pid` is the server's, not script's.
export async function startServerProcess(
  dataDir: string,
  command: "start" | "dev" = "start",
  env: Record<string, string> = {},
  { terminal = false } = {},
): Promise<ServerProcess> {
  const argv = [process.execPath, cliPath, command];
  const [file, args] = terminal ? ["script", ["-qfec", argv.map((a) => `'${a}'`).join(" "), "/dev/null"]] : [argv[0]!, argv.slice(1)];
  const child = spawn(file, args, {
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", ONEROUTER_DATA_DIR: dataDir, LOG_LEVEL: "info", ONEROUTER_DEV_BASE_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  }) as unknown as ChildProcessWithoutNullStreams;
  let logs = "";
  child.stdout.on("data", (c: Buffer) => (logs += c.toString()));
  child.stderr.on("data", (c: Buffer) => (logs += c.toString()));
  const exited = new Promise<string>((resolve) => child.once("exit", (code, signal) => resolve(`${code}:${signal}`)));
  const runFile = path.join(dataDir, "server.json");
  const started = Date.now();
  let port = 0;
  let pid = child.pid!;
  while (!port) {
    if (child.exitCode !== null || Date.now() - started > 240_000) throw new Error(`not listening:\n${logs}`);
    // A run file left by an earlier server is older than this one.
    if (existsSync(runFile) && (!terminal || statSync(runFile).mtimeMs >= started)) {
      try {
        const info = JSON.parse(readFileSync(runFile, "utf8")) as { pid?: number; port?: number };
        if (terminal) pid = info.pid ?? 0;
        if (info.pid === pid) port = info.port ?? 0;
      } catch {
        // Being written.
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    pid,
    port,
    url: `http://127.0.0.1:${port}`,
    logs: () => logs,
    async stop(signal = "SIGTERM") {
      // script(1) ends with the server, with its exit code.
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, signal);
      return exited;
    },
  };
}
