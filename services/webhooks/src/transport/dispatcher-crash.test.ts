import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { openDatabase, type Database } from "@onerouter/core";
import { createTestDatabaseUrl, postgresAvailable } from "@onerouter/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findExecutable, startNats, type NatsServer } from "../../../../test/infra";
import { startReceiver, type Receiver } from "../../test/receivers";
import { addEndpoint, addTenant, appendEvents, discardNats, migrated, testMasterKey, waitFor } from "../../test/fixtures";
import { transports } from "../../test/transports";

const script = path.join(import.meta.dirname, "../../test/dispatcher-process.ts");
const natsInstalled = findExecutable("nats-server") !== undefined;

// The dispatcher as its own process, killed with SIGKILL while it works
// through 1,000 events: whatever it had claimed, fanned out half-way or was
// delivering when it died, the next process delivers, with the same webhook-id.
describe.each(transports)("a dispatcher killed mid-stream [%s]", (transport) => {
  const runnable = postgresAvailable() && (transport === "embedded" || natsInstalled);
  let databaseUrl: string;
  let db: Database;
  let nats: NatsServer | undefined;
  let receiver: Receiver;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    if (!runnable) return;
    databaseUrl = await createTestDatabaseUrl();
    db = await migrated(openDatabase({ databaseUrl }));
    if (transport === "jetstream") nats = await startNats();
    // A little latency per request keeps the dispatcher busy long enough to be killed mid-stream.
    receiver = await startReceiver(async () => {
      await new Promise((r) => setTimeout(r, 5));
      return { status: 204 };
    });
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await receiver?.close();
    await discardNats(nats);
    await db?.close();
  });

  function startDispatcher(): { child: ChildProcess; output: () => string; ready: Promise<void> } {
    const child = spawn(process.execPath, ["--import", "tsx", script], {
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        ONEROUTER_MASTER_KEY: testMasterKey.toString("base64"),
        ONEROUTER_WEBHOOK_ALLOWED_CIDRS: "127.0.0.0/8",
        // More in flight per claim; a short attempt budget shortens the lease a killed process leaves behind.
        ONEROUTER_WEBHOOK_ENDPOINT_CONCURRENCY: "16",
        ONEROUTER_WEBHOOK_TIMEOUT_MS: "2000",
        LOG_LEVEL: "warn",
        ...(nats ? { NATS_URL: nats.url } : {}),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let output = "";
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("ready\n")) resolve();
      });
      child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
      child.once("exit", (code, signal) => reject(new Error(`dispatcher exited (${code ?? signal}) before ready:\n${output}`)));
    });
    return { child, output: () => output, ready };
  }

  const exited = (child: ChildProcess) =>
    new Promise<string>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(`${child.exitCode}:${child.signalCode}`);
      child.once("exit", (code, signal) => resolve(`${code}:${signal}`));
    });

  it.skipIf(!runnable)(
    "delivers all 1,000 pending events after a SIGKILL, repeats carrying the same webhook-id",
    async () => {
      const tenant = await addTenant(db.knex);
      await addEndpoint(db.knex, { tenantId: tenant, url: receiver.url });
      const events = await appendEvents(db.knex, { tenantId: tenant, count: 1000 });
      const receivedIds = () => new Set(receiver.requests.map((r) => (JSON.parse(r.body) as { id: string }).id));

      const first = startDispatcher();
      await first.ready;
      await waitFor("the first dispatcher to deliver 100 events", async () => receiver.requests.length >= 100, 60_000);
      first.child.kill("SIGKILL");
      expect(await exited(first.child)).toBe("null:SIGKILL");
      expect(receivedIds().size).toBeLessThan(1000);

      const second = startDispatcher();
      await second.ready;
      // Deliveries the killed process had in flight wait out their lease (a minute) first.
      await waitFor("every event to reach the receiver", async () => receivedIds().size === 1000, 150_000).catch((err: Error) => {
        throw new Error(`${err.message}; ${receivedIds().size} of 1000 arrived\n${second.output()}`);
      });
      second.child.kill("SIGTERM");
      expect(await exited(second.child), second.output()).toBe("0:null");

      expect([...receivedIds()].sort()).toEqual([...events].sort());
      // webhook-id is the event id, on the first delivery and on every repeat.
      for (const request of receiver.requests) {
        expect(request.headers["webhook-id"]).toBe((JSON.parse(request.body) as { id: string }).id);
      }
    },
    240_000,
  );
});
