import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bundleForNode } from "../services/server/build/cli";
import { imageSettingNames } from "./common";

// Runs a benchmark whose OneRouter lives in its own process as the product
// runs: the TypeScript bundled the way the `onerouter` CLI is built, under
// plain node, so the measured process holds no TypeScript loader (tsx's
// hooks run in a thread of their own with their own heap, and keep every
// transpiled source: about 80 MiB of RSS the product never has), and with
// the process settings the image gives OneRouter (the Dockerfile's ENV,
// whose LD_PRELOAD needs jemalloc on this machine: Debian's libjemalloc2),
// so its memory is the product's. The benchmark reads ONEROUTER_BENCH_BUILT to
// say so in its report.
//
//   [BENCH_NODE_FLAGS="--flag ..."] node --import tsx bench/built.ts bench/payments/run.ts [args...]

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export function imageProcessSettings(dockerfile = path.join(repositoryRoot, "Dockerfile")): Record<string, string> {
  const text = readFileSync(dockerfile, "utf8");
  const settings: Record<string, string> = {};
  // Read from the Dockerfile, so the benchmark can never drift from it.
  for (const name of imageSettingNames) {
    const value = new RegExp(`\\b${name}=("[^"]*"|\\S+)`).exec(text)?.[1];
    if (value !== undefined) settings[name] = value.replace(/^"|"$/g, "");
  }
  return settings;
}

async function main(): Promise<number> {
  const [entry, ...args] = process.argv.slice(2);
  if (!entry) throw new Error("usage: node --import tsx bench/built.ts <bench/…/run.ts> [args...]");
  const source = path.resolve(entry);
  const name = path.relative(repositoryRoot, source).replace(/\.ts$/, "").replace(/[/\\]/g, "-");
  // Under node_modules, so the bundle's imports of third-party packages resolve as the CLI's do.
  const bundle = await bundleForNode(name, source, path.join(repositoryRoot, "node_modules", ".cache", "onerouter-bench", "dist"));
  // Node's and V8's flags for the measured process that NODE_OPTIONS does not
  // take (--min-semi-space-size among them), for comparing settings.
  const flags = (process.env.BENCH_NODE_FLAGS ?? "").split(/\s+/).filter((flag) => flag !== "");
  const child = spawn(process.execPath, [...flags, bundle, ...args], {
    stdio: "inherit",
    // One set in this environment wins, for comparing settings.
    env: { ...imageProcessSettings(), ...process.env, ONEROUTER_BENCH_BUILT: "1" },
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
  return new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
