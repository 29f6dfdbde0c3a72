import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildCli } from "../../services/server/build/cli";
import { buildPgliteTemplate } from "../../services/server/build/pglite-template";
import { pgliteTemplateFile } from "../../services/server/src/app";
import { freePort } from "../../test/infra";
import { median, ms, ratio, wholeNumber } from "../common";

// The `onerouter` command as a user waits for it, each against the target the
// product sets: `--version`; `keys create`, `keys list` and `keys revoke`
// beside a running server (the README's way: `npm start`, then keys in
// another terminal) and `keys create` with no server (the command opens the
// data folder itself); a warm `start` until /healthz answers. Each from the
// JavaScript build and, side by side, from the TypeScript sources through tsx
// (how the command ran before it was built). The two take turns, round after
// round, so the machine's noise falls on both alike. Then the first `start`
// on a new data folder, from the build's PGlite template and, taking turns
// with it, without one (initdb and every migration), with the server's RSS
// once it answers. Writes REPORT.md next to this file and prints the same
// Markdown.
//
// Knobs (environment): BENCH_ROUNDS (5).

const root = path.resolve(import.meta.dirname, "../..");
const ways = {
  built: [path.join(root, "services/server/bin/onerouter.js")],
  tsx: ["--import", "tsx", path.join(root, "services/server/src/cli.ts")],
} as const;
type Way = keyof typeof ways;

interface Measured {
  command: string;
  // What the product promises, in ms.
  targetMs: number;
  samples: Record<Way, number[]>;
}

function run(way: Way, args: string[], env: Record<string, string>): { ms: number; stdout: string } {
  const started = performance.now();
  const done = spawnSync(process.execPath, [...ways[way], ...args], { env: { ...process.env, LOG_LEVEL: "warn", ...env }, encoding: "utf8" });
  if (done.status !== 0) throw new Error(`${way} ${args.join(" ")} failed: ${done.stderr}`);
  return { ms: performance.now() - started, stdout: done.stdout };
}

function startServer(way: Way, dataDir: string, port: number): { server: ChildProcess; exited: Promise<unknown> } {
  const server = spawn(process.execPath, [...ways[way], "start"], {
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", ONEROUTER_DATA_DIR: dataDir, LOG_LEVEL: "warn" },
    stdio: "ignore",
  });
  return { server, exited: new Promise((resolve) => server.once("exit", resolve)) };
}

async function healthy(port: number, server: ChildProcess): Promise<void> {
  while (!(await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false))) {
    if (server.exitCode !== null) throw new Error(`start exited with ${server.exitCode}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// The resident memory of a process, from /proc (Linux); NaN elsewhere.
function rssMiB(pid: number | undefined): number {
  try {
    const kib = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kib ? Number(kib) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

// `start` until /healthz answers 200: its wall time, and the server's RSS then.
async function startUntilHealthy(way: Way, dataDir: string): Promise<{ ms: number; rssMiB: number }> {
  const port = await freePort();
  const started = performance.now();
  const { server, exited } = startServer(way, dataDir, port);
  await healthy(port, server);
  const elapsed = performance.now() - started;
  const rss = rssMiB(server.pid);
  server.kill("SIGTERM");
  await exited;
  return { ms: elapsed, rssMiB: rss };
}

// `start` on a new data folder, from the template or without it (hidden for the run, as before the build made one).
async function firstStart(withTemplate: boolean): Promise<{ ms: number; rssMiB: number }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "onerouter-bench-cli-first-"));
  const hidden = `${pgliteTemplateFile}.hidden`;
  if (!withTemplate) renameSync(pgliteTemplateFile, hidden);
  try {
    return await startUntilHealthy("built", dataDir);
  } finally {
    if (!withTemplate) renameSync(hidden, pgliteTemplateFile);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main() {
  const rounds = wholeNumber("BENCH_ROUNDS", 5, 1);
  await buildCli();
  await buildPgliteTemplate();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "onerouter-bench-cli-"));
  const env = { ONEROUTER_DATA_DIR: dataDir };
  const measured = (command: string, targetMs: number): Measured => ({ command, targetMs, samples: { built: [], tsx: [] } });
  const version = measured("--version", 1000);
  const create = measured("keys create (beside the running server)", 1000);
  const list = measured("keys list (beside the running server)", 1000);
  const revoke = measured("keys revoke (beside the running server)", 1000);
  const alone = measured("keys create (no server: opens the data folder)", 1000);
  const start = measured("start, warm, until /healthz answers", 5000);
  try {
    // Migrates the folder once, so every start below is warm.
    run("built", ["migrate"], env);
    for (let round = 0; round < rounds; round++) {
      for (const way of ["built", "tsx"] as const) {
        version.samples[way].push(run(way, ["--version"], env).ms);
        alone.samples[way].push(run(way, ["keys", "create", "--env", "test"], env).ms);
        start.samples[way].push((await startUntilHealthy(way, dataDir)).ms);
      }
    }
    const port = await freePort();
    const { server, exited } = startServer("built", dataDir, port);
    await healthy(port, server);
    for (let round = 0; round < rounds; round++) {
      for (const way of ["built", "tsx"] as const) {
        create.samples[way].push(run(way, ["keys", "create", "--env", "test", "--name", `bench ${way} ${round}`], env).ms);
        list.samples[way].push(run(way, ["keys", "list", "--env", "test"], env).ms);
      }
    }
    // Every key the rounds above made, revoked one per run.
    const ids = run("built", ["keys", "list", "--env", "test"], env)
      .stdout.split("\n")
      .filter((line) => line.includes(" bench "))
      .map((line) => line.split(/\s+/)[0]!);
    for (let round = 0; round < rounds; round++) {
      for (const way of ["built", "tsx"] as const) revoke.samples[way].push(run(way, ["keys", "revoke", ids.pop()!], env).ms);
    }
    server.kill("SIGTERM");
    await exited;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  const first = { template: [] as { ms: number; rssMiB: number }[], initdb: [] as { ms: number; rssMiB: number }[] };
  for (let round = 0; round < rounds; round++) {
    first.template.push(await firstStart(true));
    first.initdb.push(await firstStart(false));
  }
  const rows = [version, create, list, revoke, alone, start].map(({ command, targetMs, samples }) => {
    const built = median(samples.built);
    const tsx = median(samples.tsx);
    return `| ${command} | ${ms(built)} | under ${targetMs} | ${built < targetMs ? "yes" : "**no**"} | ${ms(tsx)} | ${ratio(tsx, built)} |`;
  });
  const lines = [
    "# The onerouter command: each against its target, built JavaScript beside TypeScript through tsx",
    "",
    `Median wall time of ${rounds} runs each, taking turns, on ${os.cpus().length} cores (load average ${os.loadavg()[0]!.toFixed(1)} at the end), Node ${process.versions.node}. \`npm run bench:cli\` rewrites this file.`,
    "",
    "| Command | Built (ms) | Target (ms) | Met | tsx (ms) | tsx / built |",
    "| --- | ---: | --- | --- | ---: | ---: |",
    ...rows,
    "",
    "## First start",
    "",
    `\`start\` (built) on a new data folder until /healthz answers, median of ${rounds} runs each, taking turns: from the build's PGlite template (every migration applied), and without it (PGlite's initdb, then every migration). RSS is the server's once it answers.`,
    "",
    "| First start | Wall time (ms) | RSS (MiB) |",
    "| --- | ---: | ---: |",
    `| From the template | ${ms(median(first.template.map((s) => s.ms)))} | ${median(first.template.map((s) => s.rssMiB)).toFixed(0)} |`,
    `| Without it (initdb and migrations) | ${ms(median(first.initdb.map((s) => s.ms)))} | ${median(first.initdb.map((s) => s.rssMiB)).toFixed(0)} |`,
    `| Without ÷ from the template | ${ratio(median(first.initdb.map((s) => s.ms)), median(first.template.map((s) => s.ms)))} | |`,
    "",
  ];
  const report = lines.join("\n");
  writeFileSync(path.join(import.meta.dirname, "REPORT.md"), report);
  console.log(report);
}

await main();
