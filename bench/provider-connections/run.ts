import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { stripeEmulator } from "@onerouter/emulators/stripe";
import { startEmulator } from "@onerouter/sandbox";
import { IpcChild, percentile, wholeNumber } from "../common";
import { secretKey, type CallerReply, type CallerRequest, type Mode } from "./protocol";

// What keeping provider connections alive saves: Stripe payments through the
// real connector and SDK to the Stripe emulator over HTTPS (a self-signed
// certificate made for the run), with connections kept alive and with a
// fresh TCP and TLS handshake per request, in alternating slices of one run.
// The caller runs in a process of its own (trusting the certificate through
// NODE_EXTRA_CA_CERTS), so its CPU is the platform's side alone; the
// emulator's, this process's, is the provider's side.
//
//   npm run bench:provider-connections
//   BENCH_CALLS=300 BENCH_ROUNDS=3 npm run bench:provider-connections

const here = path.dirname(fileURLToPath(import.meta.url));
const callsPerSlice = wholeNumber("BENCH_CALLS", 200, 10);
const rounds = wholeNumber("BENCH_ROUNDS", 3, 1);
const modes: Mode[] = ["kept-alive", "fresh"];

// A self-signed certificate for 127.0.0.1, made with the openssl CLI (Node cannot issue certificates).
function selfSignedCertificate(dir: string): { key: string; cert: string; certPath: string } {
  const [keyPath, certPath] = [path.join(dir, "key.pem"), path.join(dir, "cert.pem")];
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", keyPath, "-out", certPath,
  ], { stdio: "ignore" });
  return { key: readFileSync(keyPath, "utf8"), cert: readFileSync(certPath, "utf8"), certPath };
}

interface Totals {
  latenciesMs: number[];
  callerCpuMs: number;
  emulatorCpuMs: number;
  connections: number;
  calls: number;
}

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), "provider-connections-"));
  try {
    const { key, cert, certPath } = selfSignedCertificate(dir);
    const emulator = await startEmulator(stripeEmulator({ secretKey, webhookSecret: "whsec_bench" }), { tls: { key, cert } });
    const caller = IpcChild.fork<CallerRequest, CallerReply>(path.join(here, "caller.ts"), "the caller", { ...process.env, NODE_EXTRA_CA_CERTS: certPath });
    const totals = new Map<Mode, Totals>(modes.map((m) => [m, { latenciesMs: [], callerCpuMs: 0, emulatorCpuMs: 0, connections: 0, calls: 0 }]));
    // A warm-up slice of each, so neither pays for loading the SDK.
    for (const mode of modes) await caller.ask({ type: "slice", mode, calls: 10, baseUrl: emulator.url });
    for (let round = 0; round < rounds; round += 1) {
      for (const mode of round % 2 === 0 ? modes : [...modes].reverse()) {
        const [cpu, connections] = [process.cpuUsage(), emulator.connectionCount()];
        const reply = await caller.ask({ type: "slice", mode, calls: callsPerSlice, baseUrl: emulator.url });
        const used = process.cpuUsage(cpu);
        const total = totals.get(mode)!;
        total.latenciesMs.push(...reply.latenciesMs);
        total.callerCpuMs += reply.cpuMs;
        total.emulatorCpuMs += (used.user + used.system) / 1000;
        total.connections += emulator.connectionCount() - connections;
        total.calls += reply.latenciesMs.length;
      }
    }
    caller.process.kill();
    await emulator.close();
    writeFileSync(path.join(here, "REPORT.md"), report(totals));
    process.stdout.write(report(totals));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(totals: Map<Mode, Totals>): string {
  const row = (mode: Mode) => {
    const t = totals.get(mode)!;
    const sorted = [...t.latenciesMs].sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), caller: t.callerCpuMs / t.calls, emulator: t.emulatorCpuMs / t.calls, connections: t.connections / t.calls };
  };
  const [kept, fresh] = [row("kept-alive"), row("fresh")];
  const ms = (n: number) => n.toFixed(2);
  const lines = [
    "# Provider connections: kept alive vs. a handshake per request",
    "",
    `Stripe createPayment through the connector and SDK to the Stripe emulator over HTTPS (TLS 1.3, P-256), concurrency 1, ` +
      `${rounds} alternating slices of ${callsPerSlice} calls per mode on ${os.cpus().length} cores (load average ${os.loadavg()[0]!.toFixed(2)}).`,
    "",
    "| | kept alive | fresh connections | kept / fresh |",
    "|---|---|---|---|",
    `| latency p50 (ms) | ${ms(kept.p50)} | ${ms(fresh.p50)} | ${(kept.p50 / fresh.p50).toFixed(2)} |`,
    `| latency p99 (ms) | ${ms(kept.p99)} | ${ms(fresh.p99)} | ${(kept.p99 / fresh.p99).toFixed(2)} |`,
    `| caller CPU per call (ms) | ${ms(kept.caller)} | ${ms(fresh.caller)} | ${(kept.caller / fresh.caller).toFixed(2)} |`,
    `| emulator CPU per call (ms) | ${ms(kept.emulator)} | ${ms(fresh.emulator)} | ${(kept.emulator / fresh.emulator).toFixed(2)} |`,
    `| connections per call | ${kept.connections.toFixed(3)} | ${fresh.connections.toFixed(3)} | |`,
    "",
  ];
  return lines.join("\n");
}

await main();
