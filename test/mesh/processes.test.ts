import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Code, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { DescService } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { ProviderAccountService } from "@onerouter/client/gen/onerouter/admin/v1/provider_accounts_pb";
import { RoutingProfileSchema, RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { SessionService } from "@onerouter/client/gen/onerouter/admin/v1/session_pb";
import { Role, TeamService } from "@onerouter/client/gen/onerouter/admin/v1/team_pb";
import { MessagingService } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { MasterKeyring } from "@onerouter/core";
import { ProviderAccountStore, RoutingProfileStore } from "@onerouter/routing";
import { PaymentService, PaymentStatus, type Payment } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { WebhookService } from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import { createTestDatabaseUrl, postgresAvailable } from "@onerouter/core/testing";
import { newSandboxApiKey, startEmulator, type RunningEmulator } from "@onerouter/sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findExecutable, freePort, startNats, type NatsServer } from "../infra";
import { runCrashLoop, withKey } from "../chaos/support/crash-loop";
import { countingSandbox } from "../chaos/support/counting-sandbox";
import { cliPath, killHard } from "../chaos/support/processes";
import { startFlakyReceiver, type FlakyReceiver } from "../chaos/support/receiver";
import { chaosMasterKey, chaosTenant, productEnv, type ChaosTenant } from "../chaos/support/tenant";
import { countsAbove } from "../chaos/support/tally";
import { CheckDenied, gatewayTo, type Gateway } from "./gateway";
import { startOtlpCollector, type OtlpCollector } from "./otlp-collector";

// The mesh without a cluster: the gatekeeper, payments, admin, messaging and
// the webhooks service with its workers, each `onerouter serve` in its own OS
// process on one Postgres database and NATS. A caller does what Envoy would
// (a real Check against the gatekeeper over gRPC, its headers sent on to the
// service); payments are made while the payments process is killed with
// SIGKILL and restarted, against a provider in this process. Every process
// exports its spans over OTLP to a collector in this process.

const meshSecret = "mesh-secret-for-the-multi-process-test";

interface ServiceProcess {
  url: string;
  child: ChildProcess;
  output(): string;
}

// `onerouter serve <services>` on `port`, once /readyz answers 200.
async function serve(services: string, port: number, env: Record<string, string>): Promise<ServiceProcess> {
  let output = "";
  const child = spawn(process.execPath, [cliPath, "serve", services], {
    env: { ...process.env, HOST: "127.0.0.1", PORT: String(port), LOG_LEVEL: "warn", OTEL_SERVICE_NAME: services, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000));
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const url = `http://127.0.0.1:${port}`;
  // Generous: five processes start TypeScript at once on a loaded machine.
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`serve ${services} exited with ${child.exitCode}:\n${output}`);
    const ready = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) }).then((res) => res.status === 200, () => false);
    if (ready) return { url, child, output: () => output };
    if (Date.now() > deadline) throw new Error(`serve ${services} not ready:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// A client of `service` at `url` that presents what Envoy would, over HTTP/1.1
// so a killed process costs only the calls it was answering.
function behindGateway<S extends DescService>(gateway: Gateway, url: string, service: S, apiKey: string): Client<S> {
  return createClient(
    service,
    createConnectTransport({
      baseUrl: url,
      httpVersion: "1.1",
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${apiKey}`);
          return next(req);
        },
        gateway.interceptor,
      ],
    }),
  );
}

describe.skipIf(!postgresAvailable() || !findExecutable("nats-server"))("the mesh as separate processes", () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "onerouter-mesh-"));
  let nats: NatsServer | undefined;
  const provider = countingSandbox();
  let sandbox: RunningEmulator;
  let receiver: FlakyReceiver;
  let collector: OtlpCollector;
  let tenant: ChaosTenant;
  let gateway: Gateway;
  let env: Record<string, string>;
  const ports: Record<string, number> = {};
  const processes: Record<string, ServiceProcess> = {};
  let endpointSecret = "";

  beforeAll(async () => {
    const databaseUrl = createTestDatabaseUrl();
    [nats, sandbox, receiver, collector] = await Promise.all([
      startNats(),
      startEmulator(provider, { host: "127.0.0.1" }),
      startFlakyReceiver(() => endpointSecret),
      startOtlpCollector(),
    ]);
    // The provider answers slowly, so the kill lands between its charge and the product's record of it.
    tenant = await chaosTenant(await databaseUrl, sandbox.url, { added_latency_ms: "150" });
    // Its messages go to that provider as SMS or email (OneRouter's own email to its people too).
    const scope = { tenantId: tenant.tenantId, environment: "test" as const };
    const accounts = new ProviderAccountStore(tenant.db.knex, new MasterKeyring(chaosMasterKey));
    const sms = (await accounts.query(scope).where({ category: "messaging" }).first("id")) as { id: string };
    const email = await accounts.create({
      ...scope,
      category: "messaging",
      provider: "sandbox_email",
      displayName: "sandbox_email outside the product",
      credentials: { api_key: newSandboxApiKey() },
      settings: { base_url: sandbox.url },
      enabled: true,
    });
    await new RoutingProfileStore(tenant.db.knex).put(
      { ...scope, category: "messaging" },
      create(RoutingProfileSchema, { strategy: RoutingStrategy.PRIORITY, targets: [{ providerAccountId: sms.id }, { providerAccountId: email.id }] }),
    );
    for (const name of ["gatekeeper", "payments", "admin", "messaging", "webhooks"]) ports[name] = await freePort();
    env = {
      ...productEnv(await databaseUrl, dataDir, sandbox.url),
      NATS_URL: nats!.url,
      ONEROUTER_MESH_SECRET: meshSecret,
      ONEROUTER_MESSAGING_URL: `http://127.0.0.1:${ports.messaging}`,
      // Traces exported as a platform team turns them on, batched briefly.
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_BSP_SCHEDULE_DELAY: "200",
      // Three failed authentications per client address, refilled too slowly to matter here.
      ONEROUTER_AUTH_FAILURES_BURST: "3",
      ONEROUTER_AUTH_FAILURES_PER_MINUTE: "1",
    };
    const started = await Promise.all(
      Object.entries({
        gatekeeper: "gatekeeper",
        payments: "payments",
        admin: "admin",
        messaging: "messaging",
        webhooks: "webhooks,webhook-dispatcher,outbox-relay",
      }).map(async ([name, services]) => [name, await serve(services, ports[name]!, env)] as const),
    );
    Object.assign(processes, Object.fromEntries(started));
    gateway = gatewayTo(`127.0.0.1:${ports.gatekeeper}`);
  }, 360_000);

  afterAll(async () => {
    gateway?.close();
    await Promise.all(Object.values(processes).map((p) => killHard(p.child)));
    await sandbox?.close();
    await receiver?.close();
    await collector?.close();
    await nats?.stop();
    await tenant?.db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("refuses a call that did not come through the gateway, whatever identity it claims", async () => {
    const forged = createClient(
      PaymentService,
      createConnectTransport({
        baseUrl: processes.payments!.url,
        httpVersion: "1.1",
        interceptors: [
          (next) => (req) => {
            req.header.set("x-onerouter-tenant-id", tenant.tenantId);
            req.header.set("x-onerouter-environment", "test");
            req.header.set("x-onerouter-actor", "api_key:key_forged");
            req.header.set("x-onerouter-api-key-id", "key_forged");
            req.header.set("x-onerouter-mesh-secret", "a-guess-at-the-mesh-secret-of-32-chars");
            return next(req);
          },
        ],
      }),
    );
    await expect(forged.listPayments({})).rejects.toMatchObject({ rawMessage: expect.stringContaining("gateway") });
  });

  it("emails an invitation from the admin process through the messaging process, as the system acting for the tenant, in the caller's trace", async () => {
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const team = behindGateway(gateway, processes.admin!.url, TeamService, tenant.secret);
    const { invitation } = await team.createInvitation(
      { email: "new.developer@example.com", role: Role.DEVELOPER },
      { headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` } },
    );
    expect(invitation?.emailError).toBe("");
    const messages = behindGateway(gateway, processes.messaging!.url, MessagingService, tenant.secret);
    const { message } = await messages.getMessage({ id: invitation!.emailMessageId });
    expect(message?.content.case).toBe("email");

    // One trace: the admin process's span for the call, then the messaging process's for the email it sent.
    // Each process exports its spans when they end, so the two arrive in either order.
    const spanOf = (service: string, name: string) => collector.spans.find((s) => s.service === service && s.name === name && s.traceId === traceId);
    const deadline = Date.now() + 20_000;
    while (
      !(spanOf("messaging", "onerouter.messaging.v1.MessagingService/SendMessage") && spanOf("admin", "onerouter.admin.v1.TeamService/CreateInvitation")) &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const invited = spanOf("admin", "onerouter.admin.v1.TeamService/CreateInvitation");
    expect(invited?.parentSpanId).toBe("b7ad6b7169203331");
    const sent = spanOf("messaging", "onerouter.messaging.v1.MessagingService/SendMessage");
    expect(sent?.parentSpanId).toBe(invited!.spanId);
  });

  it("downloads a CSV export from the admin process with the identity the gateway set, and refuses it without the mesh secret", async () => {
    const download = "/exports/payments.csv";
    const identity = await gateway.check(download, { authorization: `Bearer ${tenant.secret}` });
    const exported = await fetch(`${processes.admin!.url}${download}`, { headers: identity });
    expect(exported.status).toBe(200);
    expect(exported.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect((await exported.text()).split("\n")[0]).toMatch(/^id,create_time,status,amount_minor,currency,/);

    const { "x-onerouter-mesh-secret": _secret, ...forged } = identity;
    for (const [headers, reason] of [
      [forged, "MESH_SECRET_MISSING"],
      [{ ...forged, "x-onerouter-mesh-secret": `${meshSecret}-guessed` }, "MESH_SECRET_INVALID"],
    ] as const) {
      const refused = await fetch(`${processes.admin!.url}${download}`, { headers });
      expect(refused.status).toBe(401);
      expect(await refused.json()).toMatchObject({ code: "unauthenticated", reason });
    }
  });

  it("counts wrong passwords at the admin process against the client's address, which the gatekeeper then refuses", async () => {
    const elsewhere = gatewayTo(`127.0.0.1:${ports.gatekeeper}`, "198.51.100.20");
    try {
      const sessions = createClient(
        SessionService,
        createConnectTransport({ baseUrl: processes.admin!.url, httpVersion: "1.1", interceptors: [elsewhere.interceptor] }),
      );
      for (let attempt = 0; attempt < 3; attempt++) {
        await expect(sessions.signIn({ email: "nobody@example.com", password: "not the password" })).rejects.toMatchObject({
          code: Code.Unauthenticated,
        });
      }
      const refused = await elsewhere.check("/onerouter.admin.v1.SessionService/SignIn", {}).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(CheckDenied);
      expect((refused as CheckDenied).response.status?.code).toBe(Code.ResourceExhausted);
      // Another address signs in as before.
      await expect(gateway.check("/onerouter.admin.v1.SessionService/SignIn", {})).resolves.toMatchObject({ "x-onerouter-client-address": "127.0.0.1" });
    } finally {
      elsewhere.close();
    }
  });

  it("takes payments through the gateway across a kill -9 of payments, charging each once and delivering each event", async () => {
    // Admin and webhooks answer the same caller through the gateway.
    const accounts = await behindGateway(gateway, processes.admin!.url, ProviderAccountService, tenant.secret).listProviderAccounts({});
    expect(accounts.providerAccounts.map((a) => a.provider)).toContain("sandbox");
    const created = await behindGateway(gateway, processes.webhooks!.url, WebhookService, tenant.secret).createEndpoint({
      url: receiver.url,
      eventTypes: ["payment.succeeded"],
    });
    endpointSecret = created.secret;

    const client = behindGateway(gateway, processes.payments!.url, PaymentService, tenant.secret);
    const run = await runCrashLoop<Payment>({
      product: {
        start: async () => {
          if (processes.payments!.child.exitCode === null && processes.payments!.child.signalCode === null) return;
          processes.payments = await serve("payments", ports.payments!, env);
        },
        kill: () => killHard(processes.payments!.child),
      },
      crashes: 1,
      concurrency: 6,
      answersBeforeKill: [4, 8],
      settleTimeoutMs: 60_000,
      budgetMs: 400_000,
      call: async (key) => (await client.createPayment({ amount: 4200n, currency: "EUR", metadata: { chaos_key: key } }, withKey(key))).payment!,
    });

    expect(run.unanswered).toEqual([]);
    expect([...run.refused].map(([key, err]) => `${key}: ${err.message}`)).toEqual([]);
    expect(run.interrupted.size).toBeGreaterThan(0);
    const charges = provider.counts().payments;
    expect(countsAbove(run.keys, (key) => charges[key] ?? 0, 1), "keys charged more than once at the provider").toEqual([]);
    expect(run.keys.filter((key) => (charges[key] ?? 0) === 0), "keys the provider never charged").toEqual([]);
    expect([...run.answers.values()].filter((p) => p.status !== PaymentStatus.SUCCEEDED)).toEqual([]);

    // Every succeeded payment's event reaches the endpoint: outbox → relay → NATS → dispatcher.
    const succeededEvents = async () =>
      (await tenant.db.knex("outbox_events").where({ tenant_id: tenant.tenantId, type: "payment.succeeded" }).pluck("id")) as string[];
    const deadline = Date.now() + 30_000;
    let expected = await succeededEvents();
    while (expected.some((id) => !receiver.verified.has(id)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      expected = await succeededEvents();
    }
    expect(expected).toHaveLength(run.keys.length);
    expect(expected.filter((id) => !receiver.verified.has(id)), "events never delivered").toEqual([]);
    expect(receiver.badSignatures).toBe(0);
  }, 480_000);
});
