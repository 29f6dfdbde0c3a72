import { randomUUID } from "node:crypto";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ApiKeyService } from "@onerouter/client/gen/onerouter/admin/v1/api_keys_pb";
import { PaymentService, PaymentStatus } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { newId } from "@onerouter/core";
import { sandboxConnector } from "@onerouter/payments";
import { ProviderOutbound, type ConnectorContext } from "@onerouter/routing";
import { IpcChild } from "../common";
import type { LoadReply, LoadRequest, SandboxReply, SandboxRequest, SliceResult, WorkloadName } from "./protocol";

// The payments benchmark's load generator, in a process of its own so that
// the server's CPU and event loop are the server's alone. It also starts the
// sandbox provider the benchmark's account points at, in a third process
// (sandbox.ts), so the provider's work is not the platform's either and the
// direct call crosses a process boundary as the server's call does. Driven
// by run.ts over IPC.

const callTimeoutMs = 10_000;
// An open-loop slice gives up on sending more once this many calls are in flight.
const maxInFlight = 1000;

const send = (reply: LoadReply) => process.send!(reply);

async function main() {
  const sandbox = await SandboxProcess.start();
  let workloads: Record<WorkloadName, () => Promise<void>> | undefined;

  process.on("message", (message: LoadRequest) => {
    void (async () => {
      switch (message.type) {
        case "configure":
          workloads = configure(message.baseUrl, message.apiKey, message.credentials, sandbox.url, message.maxConcurrency);
          send({ type: "configured" });
          return;
        case "slice":
          send({ type: "slice", result: await runSlice(workloads![message.workload], message, sandbox) });
          return;
        case "probe": {
          const started = performance.now();
          await workloads![message.workload]();
          send({ type: "probe", ms: performance.now() - started });
          return;
        }
        case "stop":
          await sandbox.stop();
          process.exit(0);
      }
    })().catch((err: unknown) => send({ type: "failed", message: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
  });
  send({ type: "ready", sandboxUrl: sandbox.url });
}

function configure(
  baseUrl: string,
  apiKey: string,
  credentials: Record<string, string>,
  sandboxUrl: string,
  maxConcurrency: number,
): Record<WorkloadName, () => Promise<void>> {
  const authorize: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${apiKey}`);
    return next(req);
  };
  const transport = createConnectTransport({
    baseUrl,
    httpVersion: "1.1",
    // Keep-alive, so the figures are the server's work and not TCP handshakes.
    nodeOptions: { agent: new http.Agent({ keepAlive: true, maxSockets: maxConcurrency }) },
    interceptors: [authorize],
  });
  const payments = createClient(PaymentService, transport);
  const apiKeys = createClient(ApiKeyService, transport);
  const outbound = new ProviderOutbound({ baseUrls: [sandboxUrl], allowedCidrs: ["127.0.0.0/8"] });
  const direct: ConnectorContext = {
    credentials,
    settings: { base_url: sandboxUrl },
    timeoutMs: callTimeoutMs,
    transport: outbound.transport({}, { base_url: sandboxUrl }),
  };
  return {
    async CreatePayment() {
      const { payment } = await payments.createPayment(
        { amount: 1000n, currency: "USD" },
        { headers: { "Idempotency-Key": randomUUID() }, timeoutMs: callTimeoutMs },
      );
      if (payment?.status !== PaymentStatus.SUCCEEDED) throw new Error(`payment ended ${PaymentStatus[payment?.status ?? 0]}`);
    },
    async "No-op (ListApiKeys)"() {
      await apiKeys.listApiKeys({ pageSize: 1 }, { timeoutMs: callTimeoutMs });
    },
    async "Sandbox connector direct"() {
      const result = await sandboxConnector.createPayment(direct, {
        attemptId: newId("att"),
        paymentId: newId("pay"),
        amount: 1000n,
        currency: "USD",
        captureMethod: "automatic",
        metadata: {},
      });
      if (result.status !== "succeeded") throw new Error(`sandbox answered ${result.status}`);
    },
  };
}

// Closed loop (`concurrency` workers, each sending as soon as its previous
// call answered) or open loop (calls sent at `rate` per second whatever
// came back, each call's latency counted from when it was due, so a stall
// shows in the latencies instead of slowing the sender).
async function runSlice(call: () => Promise<void>, slice: Extract<LoadRequest, { type: "slice" }>, sandbox: SandboxProcess): Promise<SliceResult> {
  const latenciesMs: number[] = [];
  const startedAtMs: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let sent = 0;
  const sandboxCpuAtStart = await sandbox.cpuMs();
  const cpuAtStart = process.cpuUsage();
  const startedAt = performance.now();
  const deadline = startedAt + slice.durationMs;
  const one = async (due: number) => {
    try {
      await call();
      latenciesMs.push(performance.now() - due);
      startedAtMs.push(performance.timeOrigin + due);
    } catch (err) {
      errors += 1;
      firstError ??= err instanceof Error ? err.message : String(err);
    }
  };
  if (slice.rate === undefined) {
    const worker = async () => {
      while (performance.now() < deadline && sent < slice.maxRequests) {
        sent += 1;
        await one(performance.now());
      }
    };
    await Promise.all(Array.from({ length: slice.concurrency }, worker));
  } else {
    const interval = 1000 / slice.rate;
    const inFlight = new Set<Promise<void>>();
    for (let due = startedAt; due < deadline && sent < slice.maxRequests; due += interval) {
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      if (inFlight.size >= maxInFlight) {
        errors += 1;
        firstError ??= `more than ${maxInFlight} calls in flight`;
        continue;
      }
      sent += 1;
      const running = one(due).finally(() => inFlight.delete(running));
      inFlight.add(running);
    }
    await Promise.all(inFlight);
  }
  const elapsedMs = performance.now() - startedAt;
  const cpu = process.cpuUsage(cpuAtStart);
  const sandboxCpuMs = (await sandbox.cpuMs()) - sandboxCpuAtStart;
  return { latenciesMs, startedAtMs, errors, firstError, elapsedMs, clientCpuMs: (cpu.user + cpu.system) / 1000 + sandboxCpuMs };
}

// The sandbox provider's process.
class SandboxProcess {
  private constructor(
    private readonly ipc: IpcChild<SandboxRequest, SandboxReply>,
    readonly url: string,
  ) {}

  static async start(): Promise<SandboxProcess> {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const ipc = IpcChild.fork<SandboxRequest, SandboxReply>(path.join(here, "sandbox.ts"), "the sandbox's process");
    const ready = await ipc.next();
    if (ready.type !== "ready") throw new Error(`the sandbox's process did not start: ${JSON.stringify(ready)}`);
    return new SandboxProcess(ipc, ready.url);
  }

  async cpuMs(): Promise<number> {
    const reply = await this.ipc.ask({ type: "cpu" });
    return reply.type === "cpu" ? reply.ms : Number.NaN;
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.ipc.process.once("exit", resolve));
    this.ipc.send({ type: "stop" });
    await exited;
  }
}

void main();
