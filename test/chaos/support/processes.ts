import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

// Processes the chaos suite starts, kills with SIGKILL and restarts: the
// product through its own CLI, and provider emulators that outlive it.

const repoRoot = path.resolve(import.meta.dirname, "../../..");
export const cliPath = path.join(repoRoot, "services/server/bin/onerouter.js");
const sandboxScript = path.join(import.meta.dirname, "sandbox-process.ts");

// Every child started here, so a suite's afterAll can kill what is left.
const children = new Set<ChildProcess>();

export async function killAllChildren(): Promise<void> {
  await Promise.all([...children].map((child) => killHard(child)));
}

export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGKILL");
  await exited;
}

function track(child: ChildProcess, output: { text: string }, keepChars = 20_000): ChildProcess {
  children.add(child);
  child.once("exit", () => children.delete(child));
  // The end of the output, by default enough to explain a failed start.
  const keep = (chunk: Buffer) => {
    output.text = (output.text + chunk.toString()).slice(-keepChars);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return child;
}

async function until(
  what: string,
  child: ChildProcess,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  explain: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode} while waiting for ${what}\n${explain()}`);
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${explain()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface ProductProcess {
  baseUrl: string;
  child: ChildProcess;
  output(): string;
}

// `onerouter start` on a fixed loopback port, resolved once /readyz answers 200.
export async function startProduct(
  port: number,
  env: Record<string, string>,
  options: { timeoutMs?: number; keepOutputChars?: number } = {},
): Promise<ProductProcess> {
  // Generous: a loaded machine starts the product slowly.
  const timeoutMs = options.timeoutMs ?? 120_000;
  const output = { text: "" };
  const child = track(
    spawn(process.execPath, [cliPath, "start"], {
      env: { ...process.env, HOST: "127.0.0.1", PORT: String(port), LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    }),
    output,
    options.keepOutputChars,
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  await until(
    "the product to be ready",
    child,
    async () => (await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200,
    timeoutMs,
    () => output.text,
  );
  return { baseUrl, child, output: () => output.text };
}

export interface SandboxProcess {
  url: string;
  child: ChildProcess;
  // Per marker (a payment's chaos_key metadata, a message's text): how many
  // distinct objects the sandbox made, by kind.
  counts(): Promise<{ payments: Record<string, number>; messages: Record<string, number> }>;
}

// The sandbox provider in a process of its own, so it survives the product's crashes.
export async function startSandboxProcess(): Promise<SandboxProcess> {
  const output = { text: "" };
  const child = track(
    spawn(process.execPath, ["--import", "tsx", sandboxScript], { env: process.env, stdio: ["ignore", "pipe", "pipe"] }),
    output,
  );
  let url = "";
  await until(
    "the sandbox process to listen",
    child,
    async () => {
      url = /listening on (\S+)/.exec(output.text)?.[1] ?? "";
      return url !== "";
    },
    60_000,
    () => output.text,
  );
  return {
    url,
    child,
    async counts() {
      const res = await fetch(`${url}/_chaos/counts`);
      return (await res.json()) as { payments: Record<string, number>; messages: Record<string, number> };
    },
  };
}
