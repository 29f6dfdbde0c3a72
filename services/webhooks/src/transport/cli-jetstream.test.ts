import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { openDatabase, type Database } from "@onerouter/core";
import { createTestDatabaseUrl, postgresAvailable } from "@onerouter/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findExecutable, freePort, startNats, type NatsServer } from "../../../../test/infra";
import { startReceiver, type Receiver } from "../../test/receivers";
import { countWhere, discardNats, testMasterKey, waitFor } from "../../test/fixtures";

const repoRoot = path.resolve(import.meta.dirname, "../../../..");
const cli = path.join(repoRoot, "services/server/bin/onerouter.js");

// `onerouter start` with NATS_URL, as a real process: a payment's events go
// outbox → relay → JetStream → feed → fan-out → delivery to the customer.
describe.skipIf(!postgresAvailable() || !findExecutable("nats-server"))("onerouter start with NATS_URL", () => {
  let nats: NatsServer;
  let receiver: Receiver;
  let db: Database;
  let dataDir: string;
  let env: Record<string, string>;
  let server: ChildProcess;
  let logs = "";
  let baseUrl: string;

  beforeAll(async () => {
    nats = (await startNats())!;
    receiver = await startReceiver();
    const databaseUrl = await createTestDatabaseUrl();
    db = openDatabase({ databaseUrl });
    dataDir = mkdtempSync(path.join(os.tmpdir(), "onerouter-cli-nats-"));
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    env = {
      ...(process.env as Record<string, string>),
      PORT: String(port),
      HOST: "127.0.0.1",
      ONEROUTER_DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl,
      ONEROUTER_MASTER_KEY: testMasterKey.toString("base64"),
      NATS_URL: nats.url,
      ONEROUTER_WEBHOOK_ALLOWED_CIDRS: "127.0.0.0/8",
      LOG_LEVEL: "info",
    };
    server = spawn(process.execPath, [cli, "start"], { env, stdio: ["ignore", "pipe", "pipe"] });
    server.stdout!.on("data", (c: Buffer) => (logs += c.toString()));
    server.stderr!.on("data", (c: Buffer) => (logs += c.toString()));
    await waitFor("the server to be ready", async () => (await fetch(`${baseUrl}/readyz`)).status === 200, 60_000).catch(
      (err: Error) => {
        throw new Error(`${err.message}\n${logs}`);
      },
    );
  });
  afterAll(async () => {
    if (server?.exitCode === null && server.signalCode === null) server.kill("SIGKILL");
    await receiver?.close();
    await discardNats(nats);
    await db?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function call<T>(key: string, method: string, body: unknown): Promise<T> {
    const res = await fetch(`${baseUrl}/${method}`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${method} answered ${res.status}: ${text}`);
    return JSON.parse(text) as T;
  }

  it("delivers a payment's events through JetStream and drains on SIGTERM", async () => {
    const keys = spawnSync(process.execPath, [cli, "keys", "create", "--env", "test"], { env, encoding: "utf8", timeout: 60_000 });
    expect(keys.status, keys.stderr).toBe(0);
    const key = keys.stdout.trim().split("\n").at(-1)!;

    await call(key, "onerouter.webhooks.v1.WebhookService/CreateEndpoint", { url: receiver.url, eventTypes: ["payment.*"] });
    const { payment } = await call<{ payment: { id: string } }>(key, "onerouter.payments.v1.PaymentService/CreatePayment", {
      amount: "1000",
      currency: "USD",
    });

    const types = () =>
      receiver.requests
        .map((r) => JSON.parse(r.body) as { type: string; payment?: { payment?: { id?: string } } })
        .filter((e) => e.payment?.payment?.id === payment.id)
        .map((e) => e.type);
    await waitFor("the payment's events at the endpoint", async () => types().length >= 2);
    expect(types().sort()).toEqual(["payment.created", "payment.succeeded"]);
    // Reached the endpoint by way of JetStream: the relay marked them published.
    expect(await countWhere(db.knex, "outbox_events", (q) => q.whereNull("published_at"))).toBe(0);

    // Not ready while NATS is away, ready again once it is back.
    const ready = async () => (await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(5000) })).status;
    await nats.stop();
    await waitFor("/readyz to report NATS down", async () => (await ready()) === 503);
    nats = (await startNats({ port: nats.port, storeDir: nats.storeDir }))!;
    await waitFor("/readyz to recover", async () => (await ready()) === 200);

    const exited = new Promise<string>((resolve) => server.once("exit", (code, signal) => resolve(`${code}:${signal}`)));
    server.kill("SIGTERM");
    expect(await exited, logs).toBe("0:null");
    expect(logs).toContain("stopped");
  }, 90_000);
});
