import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

// The CLI as a newcomer runs it: a real process, real signals.
export const cliPath = path.resolve(import.meta.dirname, "../bin/onerouter.js");

// Runs a CLI command to its end; `input` is its standard input.
export function runCli(args: string[], env: Record<string, string>, input?: string) {
  return spawnSync(process.execPath, [cliPath, ...args], {
    env: { ...process.env, LOG_LEVEL: "warn", ...env },
    encoding: "utf8",
    // Generous for a machine busy with other tests.
    timeout: 120_000,
    input,
  });
}

export interface CliServer {
  port: number;
  logs(): string;
  // Waits until the logs contain `text`, or `timeoutMs` passed.
  waitForLog(text: string, timeoutMs?: number): Promise<void>;
  // Sends SIGTERM; answers "<exit code>:<signal>".
  stop(): Promise<string>;
}

// `onerouter start` on a free loopback port, once it listens.
export async function startCliServer(dataDir: string, timeoutMs = 180_000): Promise<CliServer> {
  const started = Date.now();
  const server = spawn(process.execPath, [cliPath, "start"], {
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", ONEROUTER_DATA_DIR: dataDir, LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let logs = "";
  server.stdout.on("data", (c: Buffer) => (logs += c.toString()));
  server.stderr.on("data", (c: Buffer) => (logs += c.toString()));
  const exited = new Promise<string>((resolve) => server.once("exit", (code, signal) => resolve(`${code}:${signal}`)));
  const stop = () => {
    server.kill("SIGTERM");
    return exited;
  };
  const runFile = path.join(dataDir, "server.json");
  let port = 0;
  while (!port) {
    if (Date.now() - started > timeoutMs) {
      await stop();
      throw new Error(`not listening after ${timeoutMs / 1000} s:\n${logs}`);
    }
    if (existsSync(runFile)) port = runFilePort(runFile);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    logs: () => logs,
    async waitForLog(text, waitMs = 30_000) {
      const deadline = Date.now() + waitMs;
      while (!logs.includes(text) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    },
    stop,
  };
}

// The port the run file names; 0 while the server has yet to write it whole.
function runFilePort(runFile: string): number {
  try {
    return (JSON.parse(readFileSync(runFile, "utf8")) as { port?: number }).port ?? 0;
  } catch {
    return 0;
  }
}
