import { randomBytes } from "node:crypto";
import { fromBinary } from "@bufbuild/protobuf";
import { adminMigrations } from "@onerouter/admin";
import { EventSchema } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import {
  createLogger,
  loadConfig,
  MasterKeyring,
  openDatabase,
  outboxMigrations,
  type Database,
  type Knex,
} from "@onerouter/core";
import { createTestDatabase, createTestDatabaseUrl, describeEachEngine, notificationBackends, postgresAvailable } from "@onerouter/core/testing";
import { Webhook } from "standardwebhooks";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EventStreamHub } from "../event-stream/hub";
import { webhookMigrations } from "../migrations";
import { newEndpointSecret } from "../secrets";
import { WebhookHttpClient } from "./http-client";
import { requeueFailedDeliveries } from "./requeue";
import { RetrySchedule } from "./schedule";
import {
  insertDelivery,
  insertEndpoint,
  insertTenant,
  sleep,
  startReceiver,
  waitFor,
  type Receiver,
  type Responder,
} from "../../test/receivers";
import { DeliveryWorker, webhookUserAgent, type DeliveryAttemptRow, type DeliveryWorkerOptions } from "./worker";

const migrations = [...adminMigrations, ...outboxMigrations, ...webhookMigrations];
const masterKeys = new MasterKeyring(randomBytes(32));
const logger = createLogger("silent");
const loopback = ["127.0.0.0/8"];
const { backlogRate, behindAfterMs } = loadConfig({}).webhookDelivery;

function newWorker(knex: Knex, overrides: Partial<DeliveryWorkerOptions> = {}): DeliveryWorker {
  return new DeliveryWorker({
    knex,
    masterKeys,
    logger,
    httpClient: new WebhookHttpClient({ allowedCidrs: loopback, timeoutMs: 5000 }),
    schedule: new RetrySchedule({ delaysMs: [0, 50, 50, 50] }),
    concurrency: 16,
    endpointConcurrency: 4,
    pollIntervalMs: 25,
    disableAfterMs: 5 * 86_400_000,
    backlogRate,
    behindAfterMs,
    ...overrides,
  });
}

// Deliveries dlv_backlog_1 to _<count> (or <idPrefix>_1 to _<count>) owed to
// the endpoint, due a minute ago in that order, each of its own copy of the
// event (one delivery per event and endpoint).
async function owedBacklog(knex: Knex, input: { tenantId: string; eventId: string; endpointId: string; count: number; idPrefix?: string }): Promise<void> {
  await knex.raw(
    `insert into webhook_events (id, tenant_id, environment, type, payload, created_at)
     select e.id || '_' || g, e.tenant_id, e.environment, e.type, e.payload, e.created_at
       from webhook_events e, generate_series(1, ?::integer) g where e.id = ?`,
    [input.count, input.eventId],
  );
  await knex.raw(
    `insert into webhook_deliveries (id, tenant_id, environment, event_id, endpoint_id, next_attempt_at)
     select ? || '_' || g, ?, 'test', ? || '_' || g, ?, now() - interval '1 minute' + g * interval '1 millisecond'
       from generate_series(1, ?::integer) g`,
    [input.idPrefix ?? "dlv_backlog", input.tenantId, input.eventId, input.endpointId, input.count],
  );
}

describeEachEngine("DeliveryWorker", (engine) => {
  let db: Database;
  let tenantId: string;
  const workers: DeliveryWorker[] = [];
  const receivers: Receiver[] = [];

  const worker = (overrides: Partial<DeliveryWorkerOptions> = {}) => {
    const created = newWorker(db.knex, overrides);
    workers.push(created);
    return created;
  };
  const receiver = async (respond?: Responder) => {
    const started = await startReceiver(respond);
    receivers.push(started);
    return started;
  };
  const endpoint = (url: string, extra: Partial<Parameters<typeof insertEndpoint>[2]> = {}) =>
    insertEndpoint(db.knex, masterKeys, { tenantId, url, ...extra });
  const delivery = (endpointId: string) => insertDelivery(db.knex, { tenantId, endpointId });
  const deliveryRow = (id: string) =>
    db.knex("webhook_deliveries").where({ id }).first<{ status: string; attempt_count: number } | undefined>();
  const attempts = (deliveryId: string) =>
    db.knex("webhook_delivery_attempts").where({ delivery_id: deliveryId }).orderBy("attempt_number").select<DeliveryAttemptRow[]>();
  const endpointRow = (id: string) =>
    db.knex("webhook_endpoints").where({ id }).first<{ status: string; disabled_reason: string; failing_since: Date | null }>();
  const settled = async (id: string, status = "succeeded") => {
    await waitFor(async () => (await deliveryRow(id))?.status === status, `delivery ${id} ${status}`);
  };
  // Counts the worker's claims (one per pass) until stopped.
  const claimCounter = () => {
    const counter = { count: 0, stop: () => db.knex.off("query", count) };
    const count = (query: { sql: string }) => {
      if (query.sql.includes("with claimed as")) counter.count += 1;
    };
    db.knex.on("query", count);
    return counter;
  };
  const disabledEvents = async (endpointId: string) =>
    (await db.knex("outbox_events").where({ tenant_id: tenantId, type: "webhook_endpoint.disabled" }).select("payload"))
      .map((row: { payload: Uint8Array }) => fromBinary(EventSchema, row.payload))
      .filter((event) => event.data.case === "webhookEndpoint" && event.data.value.endpointId === endpointId);

  beforeAll(async () => {
    db = await createTestDatabase(engine);
    await db.migrate(migrations);
    tenantId = await insertTenant(db.knex);
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    await Promise.all(receivers.splice(0).map((r) => r.close()));
    // Nothing a test leaves behind is delivered by the next one.
    await db.knex("webhook_deliveries").where({ status: "pending" }).update({ status: "failed" });
  });
  afterAll(async () => db?.close());

  it("signs every delivery for each active secret; redeliveries carry the same webhook-id", async () => {
    const previous = newEndpointSecret();
    const expired = newEndpointSecret();
    const hooks = await receiver((_, r) => ({ status: r.requests.length === 1 ? 500 : 204 }));
    const { id: endpointId, secret } = await endpoint(hooks.url, {
      previousSecrets: [
        { secret: previous, expiresAt: new Date(Date.now() + 3_600_000) },
        { secret: expired, expiresAt: new Date(Date.now() - 1000) },
      ],
    });
    const { deliveryId, eventId } = await delivery(endpointId);
    worker().start();
    await settled(deliveryId);

    expect(hooks.requests).toHaveLength(2);
    for (const request of hooks.requests) {
      expect(request.headers).toMatchObject({
        "webhook-id": eventId,
        "content-type": "application/json",
        "user-agent": webhookUserAgent,
      });
      expect(request.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
      // During rotation the current and the previous secret both verify.
      for (const valid of [secret, previous]) {
        expect(new Webhook(valid).verify(request.body, request.headers)).toMatchObject({
          id: eventId,
          type: "webhook.test",
          tenantId,
          environment: "ENVIRONMENT_TEST",
          test: { message: "hello from OneRouter" },
        });
      }
      expect(() => new Webhook(expired).verify(request.body, request.headers)).toThrow();
      expect(() => new Webhook(secret).verify(request.body.replace("hello", "HELLO"), request.headers)).toThrow();
    }
  });

  it("signs with its own clock, so a stale timestamp fails verification", async () => {
    const hooks = await receiver();
    const { id: endpointId, secret } = await endpoint(hooks.url);
    const { deliveryId } = await delivery(endpointId);
    worker({ now: () => new Date(Date.now() - 3_600_000) }).start();
    await settled(deliveryId);
    const [request] = hooks.requests;
    expect(() => new Webhook(secret).verify(request!.body, request!.headers)).toThrow(/timestamp/i);
  });

  it("retries a failing endpoint until it recovers, recording every attempt", async () => {
    const hooks = await receiver((_, r) => (r.requests.length <= 2 ? { status: 500, body: "x".repeat(10_000) } : { status: 200, body: "ok" }));
    const { id: endpointId } = await endpoint(hooks.url);
    const { deliveryId } = await delivery(endpointId);
    worker().start();
    await settled(deliveryId);

    const recorded = await attempts(deliveryId);
    expect(recorded.map((a) => [a.attempt_number, a.status, a.response_status_code])).toEqual([
      [1, "failed", 500],
      [2, "failed", 500],
      [3, "succeeded", 200],
    ]);
    expect(recorded[0]!.response_body).toBe("x".repeat(4096));
    expect(recorded[2]!.response_body).toBe("ok");
    expect(recorded[0]!.next_attempt_at).not.toBeNull();
    expect(recorded[2]!.next_attempt_at).toBeNull();
    expect(recorded.every((a) => a.latency_ms >= 0 && a.error === "")).toBe(true);
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: "succeeded", attempt_count: 3 });
    // The success ended the endpoint's run of failures.
    expect((await endpointRow(endpointId))!.failing_since).toBeNull();
  });

  it("marks a delivery failed when the schedule is used up, leaving the endpoint failing_since set", async () => {
    const hooks = await receiver(() => ({ status: 500 }));
    const { id: endpointId } = await endpoint(hooks.url);
    const { deliveryId } = await delivery(endpointId);
    worker({ schedule: new RetrySchedule({ delaysMs: [0, 20, 20] }) }).start();
    await settled(deliveryId, "failed");
    expect((await attempts(deliveryId)).map((a) => a.response_status_code)).toEqual([500, 500, 500]);
    expect(hooks.requests).toHaveLength(3);
    expect(await endpointRow(endpointId)).toMatchObject({ status: "enabled", failing_since: expect.any(Date) });
  });

  it("waits as long as Retry-After asks on 503", async () => {
    const hooks = await receiver((_, r) => (r.requests.length === 1 ? { status: 503, headers: { "retry-after": "1" } } : { status: 204 }));
    const { id: endpointId } = await endpoint(hooks.url);
    const { deliveryId } = await delivery(endpointId);
    worker({ schedule: new RetrySchedule({ delaysMs: [0, 20, 60_000] }) }).start();
    await settled(deliveryId);
    const [first, second] = await attempts(deliveryId);
    expect(first!.response_status_code).toBe(503);
    const askedWait = new Date(first!.next_attempt_at!).getTime() - new Date(first!.created_at).getTime();
    expect(askedWait).toBeGreaterThanOrEqual(1000);
    expect(new Date(second!.created_at).getTime()).toBeGreaterThanOrEqual(new Date(first!.next_attempt_at!).getTime());
  });

  it("disables the endpoint at once on 410 Gone and attempts none of its other deliveries", async () => {
    const hooks = await receiver(() => ({ status: 410, body: "gone" }));
    const { id: endpointId } = await endpoint(hooks.url);
    const { deliveryId } = await delivery(endpointId);
    const running = worker();
    running.start();
    await settled(deliveryId, "failed");
    expect(await attempts(deliveryId)).toHaveLength(1);
    const disabled = await endpointRow(endpointId);
    expect(disabled!.status).toBe("failing");
    expect(disabled!.disabled_reason).toContain("410 Gone");
    const [event, ...more] = await disabledEvents(endpointId);
    expect(more).toHaveLength(0);
    expect(event!.data.value).toMatchObject({ endpointId, url: hooks.url, reason: disabled!.disabled_reason });

    // Waits, pending, until the endpoint is enabled again.
    const parked = await delivery(endpointId);
    running.wake();
    await sleep(300);
    expect(await deliveryRow(parked.deliveryId)).toMatchObject({ status: "pending", attempt_count: 0 });
    expect(hooks.requests).toHaveLength(1);
    await db.knex("webhook_endpoints").where({ id: endpointId }).update({ status: "enabled", disabled_reason: "" });
    running.wake();
    await waitFor(() => hooks.requests.length === 2, "the parked delivery after re-enabling");
  });

  it("disables an endpoint that keeps failing past the disable period and tells the tenant", async () => {
    const down = await receiver();
    await down.close();
    const { id: endpointId } = await endpoint(down.url);
    const { deliveryId } = await delivery(endpointId);
    worker({
      schedule: new RetrySchedule({ delaysMs: [0, ...Array<number>(20).fill(100)] }),
      disableAfterMs: 300,
    }).start();
    await waitFor(async () => (await endpointRow(endpointId))!.status === "failing", "the endpoint to be disabled");

    const disabled = await endpointRow(endpointId);
    expect(disabled!.disabled_reason).toMatch(/^every delivery has failed since .+, longer than 300 ms$/);
    const events = await disabledEvents(endpointId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: "webhook_endpoint.disabled", tenantId });
    expect(events[0]!.data.value).toMatchObject({ endpointId, url: down.url, reason: disabled!.disabled_reason });
    const recorded = await attempts(deliveryId);
    expect(recorded[0]!.error).toContain("ECONNREFUSED");
    expect(recorded.every((a) => a.response_status_code === 0)).toBe(true);
    // Not attempted any more, though its schedule has attempts left.
    await sleep(300);
    expect(await attempts(deliveryId)).toHaveLength(recorded.length);
    expect((await deliveryRow(deliveryId))!.status).toBe("pending");
  });

  it("records a refused destination as a failed attempt without connecting", async () => {
    const hooks = await receiver();
    const { id: endpointId } = await endpoint(hooks.url);
    const { deliveryId } = await delivery(endpointId);
    worker({
      httpClient: new WebhookHttpClient({ allowedCidrs: [], timeoutMs: 5000 }),
      schedule: new RetrySchedule({ delaysMs: [0, 20] }),
    }).start();
    await settled(deliveryId, "failed");
    const recorded = await attempts(deliveryId);
    expect(recorded.map((a) => a.error)).toEqual(Array(2).fill("destination 127.0.0.1 is a loopback address"));
    expect(hooks.connections).toBe(0);
  });

  it("keeps to the per-endpoint bound", async () => {
    // The first requests are held until three are in flight, so the bound is reached.
    const hooks = await receiver(async (_, r) => {
      if (r.requests.length <= 3) await waitFor(() => r.inFlight >= 3, "three in flight", 15_000).catch(() => {});
      await sleep(20);
      return { status: 204 };
    });
    const { id: endpointId } = await endpoint(hooks.url);
    const created = [];
    for (let i = 0; i < 12; i++) created.push(await delivery(endpointId));
    worker({ endpointConcurrency: 3 }).start();
    for (const { deliveryId } of created) await settled(deliveryId);
    expect(hooks.maxInFlight).toBe(3);
    expect(hooks.requests).toHaveLength(12);
  });

  it("keeps to the global bound across endpoints", async () => {
    const hooks = await receiver(async (_, r) => {
      if (r.requests.length <= 2) await waitFor(() => r.inFlight >= 2, "two in flight", 15_000).catch(() => {});
      await sleep(20);
      return { status: 204 };
    });
    const created = [];
    for (let e = 0; e < 2; e++) {
      const { id: endpointId } = await endpoint(hooks.url);
      for (let i = 0; i < 4; i++) created.push(await delivery(endpointId));
    }
    worker({ concurrency: 2 }).start();
    for (const { deliveryId } of created) await settled(deliveryId);
    expect(hooks.maxInFlight).toBe(2);
  });

  it("delivers to another endpoint while one endpoint's long backlog waits on its bound", async () => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const hooks = await receiver(async (request) => {
      if (request.path.endsWith("/backlogged")) await released;
      return { status: 204 };
    });
    const { id: backlogged } = await endpoint(`${hooks.url}/backlogged`);
    const { eventId } = await delivery(backlogged);
    // 300 more deliveries owed to it, all older than the other endpoint's one.
    await owedBacklog(db.knex, { tenantId, eventId, endpointId: backlogged, count: 300 });
    const { id: other } = await endpoint(`${hooks.url}/other`);
    const { deliveryId } = await delivery(other);
    worker({ concurrency: 6, endpointConcurrency: 2 }).start();
    try {
      await settled(deliveryId);
      expect(hooks.requests.filter((r) => r.path.endsWith("/backlogged"))).toHaveLength(2);
    } finally {
      release();
    }
  });

  it("holds an endpoint's backlog to its rate while another endpoint's deliveries are on time, and drains it at full speed once they stop", async () => {
    const hooks = await receiver();
    const backlogCount = () => hooks.requests.filter((r) => r.path.endsWith("/backlogged")).length;
    const { id: backlogged } = await endpoint(`${hooks.url}/backlogged`);
    const { eventId } = await insertDelivery(db.knex, { tenantId, endpointId: backlogged, nextAttemptAt: new Date(Date.now() - 120_000) });
    await owedBacklog(db.knex, { tenantId, eventId, endpointId: backlogged, count: 39, idPrefix: "dlv_behind" });
    const { id: other } = await endpoint(`${hooks.url}/other`);
    const { deliveryId } = await delivery(other);
    // The worker's clock, which meters the backlog's rate, moves only when the test moves it.
    let clock = Date.now();
    // One delivery at a time to the backlog, so no pass can claim more than
    // one of its deliveries however the answers interleave.
    worker({ endpointConcurrency: 1, backlogRate: 1, now: () => new Date(clock) }).start();
    await settled(deliveryId);
    // The first pass, before any backlog was known, took the bound (1); the
    // bucket (1) then let 1 more go, and no time passes to refill it.
    await sleep(200);
    expect(backlogCount()).toBe(2);
    // A second refills one token: one more delivery.
    clock += 1000;
    await waitFor(() => backlogCount() === 3, "the refilled bucket's pass");
    await sleep(200);
    expect(backlogCount()).toBe(3);
    // No delivery on time for longer than the window: the rest go unbounded.
    clock += 1001;
    await waitFor(() => backlogCount() === 40, "the whole backlog", 10_000);
  });

  it("delivers on wake() without waiting for the poll", async () => {
    const hooks = await receiver();
    const { id: endpointId } = await endpoint(hooks.url);
    const running = worker({ pollIntervalMs: 60_000 });
    running.start();
    await sleep(100);
    const { deliveryId } = await delivery(endpointId);
    running.wake();
    await waitFor(async () => (await deliveryRow(deliveryId))?.status === "succeeded", "the woken delivery", 10_000);
  });

  it("runs no pass for a wake whose endpoints are all at their bound here, and delivers their deliveries as answers free the slots", async () => {
    let release = () => {};
    const held = new Promise<void>((r) => (release = r));
    const slow = await receiver(async () => {
      await held;
      return { status: 204 };
    });
    const fast = await receiver();
    const { id: busy } = await endpoint(slow.url);
    const { id: idle } = await endpoint(fast.url);
    const claims = claimCounter();
    try {
      const { deliveryId: first } = await delivery(busy);
      const running = worker({ pollIntervalMs: 60_000, endpointConcurrency: 1 });
      running.start();
      await waitFor(() => slow.inFlight === 1, "the busy endpoint's delivery in flight");
      const { deliveryId: second } = await delivery(busy);
      const before = claims.count;
      running.wake([busy]);
      await sleep(100);
      expect(claims.count).toBe(before);
      // Another endpoint named beside it: a pass, which takes only what is free.
      const { deliveryId: other } = await delivery(idle);
      running.wake([busy, idle]);
      await settled(other);
      expect(claims.count).toBeGreaterThan(before);
      expect(slow.inFlight).toBe(1);
      release();
      await settled(first);
      await settled(second);
    } finally {
      release();
      claims.stop();
    }
  });

  it("claims once per free slot: the answer runs a pass, the attempt's recording runs none", async () => {
    const hooks = await receiver();
    const { id: endpointId } = await endpoint(hooks.url);
    const claims = claimCounter();
    try {
      const { deliveryId } = await delivery(endpointId);
      worker({ pollIntervalMs: 60_000 }).start();
      await settled(deliveryId);
      await sleep(200);
      // The start's pass took it; the answer's pass found nothing more.
      expect(claims.count).toBe(2);
    } finally {
      claims.stop();
    }
  });

  it("stops after the deliveries in flight are recorded", async () => {
    const hooks = await receiver(async () => {
      await sleep(300);
      return { status: 204 };
    });
    const { id: endpointId } = await endpoint(hooks.url);
    const { deliveryId } = await delivery(endpointId);
    const running = worker();
    running.start();
    await waitFor(() => hooks.inFlight === 1, "the delivery in flight");
    await running.stop();
    expect((await deliveryRow(deliveryId))!.status).toBe("succeeded");
  });

  it("resends a delivery at once as one more attempt with the same webhook-id", async () => {
    let answer = 204;
    const hooks = await receiver(() => ({ status: answer }));
    const { id: endpointId } = await endpoint(hooks.url);
    const { deliveryId, eventId } = await delivery(endpointId);
    const idle = worker();
    expect(await idle.resend(deliveryId)).toMatchObject({ attempt_number: 1, status: "succeeded", response_status_code: 204 });
    answer = 500;
    expect(await idle.resend(deliveryId)).toMatchObject({ attempt_number: 2, status: "failed", next_attempt_at: null });
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: "failed", attempt_count: 2 });
    expect(hooks.requests.map((r) => r.headers["webhook-id"])).toEqual([eventId, eventId]);
    expect(await idle.resend("dlv_missing")).toBeUndefined();
  });

  it("requeues failed deliveries since a time for recovery", async () => {
    let answer = 500;
    const hooks = await receiver(() => ({ status: answer }));
    const { id: endpointId } = await endpoint(hooks.url);
    const since = new Date(Date.now() - 1000);
    const { deliveryId } = await delivery(endpointId);
    const running = worker({ schedule: new RetrySchedule({ delaysMs: [0] }) });
    running.start();
    await settled(deliveryId, "failed");
    answer = 204;
    expect(await requeueFailedDeliveries(db.knex, endpointId, new Date(Date.now() + 60_000))).toBe(0);
    expect(await requeueFailedDeliveries(db.knex, endpointId, since)).toBe(1);
    running.wake();
    await settled(deliveryId);
    expect((await attempts(deliveryId)).map((a) => a.status)).toEqual(["failed", "succeeded"]);
  });
});

describe.skipIf(!postgresAvailable())("webhooks in two processes on one Postgres database", () => {
  // Separate pools stand for separate processes.
  let first: Database;
  let second: Database;
  beforeAll(async () => {
    const url = await createTestDatabaseUrl();
    [first, second] = [openDatabase({ databaseUrl: url }), openDatabase({ databaseUrl: url })];
    await first.migrate(migrations);
  });
  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
  });

  it("deliver each of 200 deliveries exactly once", async () => {
    const seen = new Map<string, number>();
    const hooks = await startReceiver(async (request) => {
      const key = `${request.path} ${request.headers["webhook-id"]}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
      await sleep(2);
      return { status: 204 };
    });
    try {
      const tenantId = await insertTenant(first.knex);
      const expected: string[] = [];
      for (let e = 0; e < 4; e++) {
        const path = `/hooks/${e}`;
        const { id: endpointId } = await insertEndpoint(first.knex, masterKeys, { tenantId, url: `${hooks.url}/${e}` });
        for (let i = 0; i < 50; i++) {
          const { eventId } = await insertDelivery(first.knex, { tenantId, endpointId });
          expected.push(`${path} ${eventId}`);
        }
      }
      const workers = [newWorker(first.knex, { concurrency: 8 }), newWorker(second.knex, { concurrency: 8 })];
      workers.forEach((w) => w.start());
      await waitFor(
        async () => Number((await first.knex("webhook_deliveries").where({ status: "succeeded" }).count<{ count: string }[]>("*"))[0]!.count) === 200,
        "all 200 deliveries",
        60_000,
      );
      await Promise.all(workers.map((w) => w.stop()));
      expect([...seen.keys()].sort()).toEqual(expected.sort());
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      expect(Number((await first.knex("webhook_delivery_attempts").count<{ count: string }[]>("*"))[0]!.count)).toBe(200);
    } finally {
      await hooks.close();
    }
  });

  it("claims from a 5,000-delivery backlog by reading only what one pass takes", async () => {
    const tenantId = await insertTenant(first.knex);
    const { id: backlogged } = await insertEndpoint(first.knex, masterKeys, { tenantId, url: "http://127.0.0.1:9/backlogged" });
    const { eventId } = await insertDelivery(first.knex, { tenantId, endpointId: backlogged });
    await owedBacklog(first.knex, { tenantId, eventId, endpointId: backlogged, count: 5000 });
    // Another endpoint's delivery, due after the whole backlog.
    const { id: other } = await insertEndpoint(first.knex, masterKeys, { tenantId, url: "http://127.0.0.1:9/other" });
    await insertDelivery(first.knex, { tenantId, endpointId: other });
    // Some already leased, as while the backlog drains.
    await first.knex("webhook_deliveries").whereIn("id", ["dlv_backlog_1", "dlv_backlog_2"]).update({ claimed_until: new Date(Date.now() + 60_000) });
    await first.knex.raw("analyze webhook_deliveries");

    // The worker's own claim statement, as it sends it: runPrepared hands
    // its values to the driver with the statement's name, not to knex.
    const claims: { sql: string; bindings: Knex.RawBinding[] }[] = [];
    const capture = (q: { sql: string; bindings: Knex.RawBinding[]; options?: { values?: Knex.RawBinding[] } }) => {
      if (q.sql.trim().startsWith("with claimed")) claims.push({ sql: q.sql, bindings: q.options?.values ?? q.bindings });
    };
    second.knex.on("query", capture);
    const probe = newWorker(second.knex, { pollIntervalMs: 60_000, concurrency: 1 });
    try {
      probe.start();
      await waitFor(() => claims.length > 0, "a claim");
    } finally {
      second.knex.off("query", capture);
      await probe.stop();
    }
    // The worker runs it prepared, so after a few runs Postgres may plan it
    // once for any parameters (a generic plan): both plans must read as little.
    const { sql: sent, bindings } = claims[0]!;
    const literal = (value: unknown) =>
      Array.isArray(value) ? `array[${value.map((v) => `'${String(v).replaceAll("'", "''")}'`).join(", ")}]::text[]` : String(Number(value));
    for (const generic of [false, true]) {
      // Analyzed in a transaction that is rolled back, so nothing stays claimed.
      const trx = await first.knex.transaction();
      let plan: PlanNode;
      try {
        let rows: { "QUERY PLAN": [{ Plan: PlanNode }] }[];
        if (generic) {
          await trx.raw("set local plan_cache_mode = force_generic_plan");
          await trx.raw(`prepare claim_probe as ${sent}`);
          ({ rows } = await trx.raw(`explain (analyze, format json) execute claim_probe(${bindings.map(literal).join(", ")})`));
          await trx.raw("deallocate claim_probe");
        } else {
          // As sent, its parameters are numbered ($1); knex numbers them itself.
          ({ rows } = await trx.raw(`explain (analyze, format json) ${sent.replace(/\$\d+/g, "?")}`, bindings));
        }
        plan = rows[0]!["QUERY PLAN"][0].Plan;
      } finally {
        await trx.rollback();
      }
      const nodes = planNodes(plan);
      const onDeliveries = nodes.filter((n) => n["Relation Name"] === "webhook_deliveries");
      const scans = onDeliveries.filter((n) => n["Node Type"].endsWith("Scan"));
      expect(scans.length).toBeGreaterThan(0);
      expect(scans.map((n) => n["Node Type"]).filter((type) => !type.startsWith("Index"))).toEqual([]);
      // Each scan of the backlog stops after the few rows a pass takes.
      for (const node of onDeliveries) expect((node["Actual Rows"] + (node["Rows Removed by Filter"] ?? 0)) * node["Actual Loops"]).toBeLessThan(100);
      expect(nodes.filter((n) => n["Node Type"] === "Sort").every((n) => n["Actual Rows"] < 100)).toBe(true);
    }
  });

  it("wakes an event stream in one process at the commit of an event another process records", async () => {
    const tenantId = await insertTenant(first.knex);
    const { id: endpointId } = await insertEndpoint(first.knex, masterKeys, { tenantId, url: "http://127.0.0.1:9/hub" });
    // Its poll alone would take a minute.
    const hub = new EventStreamHub(first.knex, logger, { pollIntervalMs: 60_000 });
    hub.start();
    // Nothing else listens in this database: the hub listens only while a stream is open.
    const listeners = async () => (await notificationBackends(second.knex)).length;
    expect(await listeners()).toBe(0);
    const subscription = hub.subscribe({ tenant_id: tenantId, environment: "test" });
    try {
      // Told once it listens, so whatever came before is read by the stream itself.
      expect(await subscription.next(10_000)).toBe("events");
      const recordedAt = performance.now();
      await insertDelivery(second.knex, { tenantId, endpointId });
      expect(await subscription.next(10_000)).toBe("events");
      expect(performance.now() - recordedAt).toBeLessThan(5_000);
      expect(await listeners()).toBe(1);
      subscription.close();
      // Gone from pg_stat_activity once its backend has exited, a moment after the client closed.
      await expect.poll(listeners, { timeout: 10_000 }).toBe(0);
    } finally {
      subscription.close();
      await hub.stop();
    }
  });
});

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Actual Rows": number;
  "Actual Loops": number;
  "Rows Removed by Filter"?: number;
  Plans?: PlanNode[];
}

const planNodes = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(planNodes)];
