import { EventType } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { createLogger, type Database } from "@onerouter/core";
import { createTestDatabase, postgresAvailable, storageEngines } from "@onerouter/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findExecutable, startNats, type NatsServer } from "../../../../test/infra";
import {
  addEndpoint,
  addTenant,
  appendEvents,
  countWhere,
  discardNats,
  migrated,
  waitFor,
} from "../../test/fixtures";
import { startTransport, transports, type RunningTransport } from "../../test/transports";

const logger = createLogger("silent");
const natsInstalled = findExecutable("nats-server") !== undefined;

// One suite, both transports: the outbox read directly (embedded mode) and
// relay + JetStream consumer (mesh mode), each over both storage engines.
const combinations = transports.flatMap((transport) => storageEngines.map((engine) => [transport, engine] as const));

describe.each(combinations)("event transport [%s, %s]", (transport, engine) => {
  const runnable = (engine === "pglite" || postgresAvailable()) && (transport === "embedded" || natsInstalled);
  let db: Database;
  let nats: NatsServer | undefined;
  let running: RunningTransport;
  const worker = { wakes: 0, wake() { this.wakes += 1; } };

  beforeAll(async () => {
    if (!runnable) return;
    db = await migrated(await createTestDatabase(engine));
    // A NATS server of its own: on a shared one, other suites' feeds share the durable consumer.
    if (transport === "jetstream") nats = await startNats();
    running = await startTransport(transport, { knex: db.knex, logger, worker, natsUrl: nats?.url });
  });
  afterAll(async () => {
    await running?.stop();
    await discardNats(nats);
    await db?.close();
  });

  it.skipIf(!runnable)("fans out to the matching endpoints of the event's tenant and environment only", async () => {
    const knex = db.knex;
    const tenant = await addTenant(knex);
    const otherTenant = await addTenant(knex);
    const paymentsOnly = await addEndpoint(knex, { tenantId: tenant, eventTypes: ["payment.succeeded"] });
    const refundsOnly = await addEndpoint(knex, { tenantId: tenant, eventTypes: ["refund.*"] });
    const everything = await addEndpoint(knex, { tenantId: tenant });
    const live = await addEndpoint(knex, { tenantId: tenant, environment: "live" });
    const otherTenants = await addEndpoint(knex, { tenantId: otherTenant });
    const disabled = await addEndpoint(knex, { tenantId: tenant, status: "disabled" });

    const wakesBefore = worker.wakes;
    const events = [
      ...(await appendEvents(knex, { tenantId: tenant, type: EventType.PAYMENT_SUCCEEDED, count: 2 })),
      ...(await appendEvents(knex, { tenantId: tenant, type: EventType.REFUND_SUCCEEDED, count: 1 })),
      ...(await appendEvents(knex, { tenantId: tenant, type: EventType.REFUND_FAILED, count: 1 })),
      ...(await appendEvents(knex, { tenantId: tenant, type: EventType.PAYMENT_FAILED, count: 1 })),
      ...(await appendEvents(knex, { tenantId: tenant, environment: "live", type: EventType.REFUND_SUCCEEDED, count: 1 })),
    ];
    await waitFor("every event fanned out", async () =>
      (await countWhere(knex, "webhook_events", (q) => q.whereIn("id", events))) === events.length,
    );

    const deliveries = await knex("webhook_deliveries as d")
      .join("webhook_events as e", "e.id", "d.event_id")
      .whereIn("d.event_id", events)
      .select<{ endpoint_id: string; type: string; status: string; next_attempt_at: Date | null }[]>(
        "d.endpoint_id",
        "e.type",
        "d.status",
        "d.next_attempt_at",
      );
    const typesOf = (endpoint: string) => deliveries.filter((d) => d.endpoint_id === endpoint).map((d) => d.type).sort();
    expect(typesOf(paymentsOnly)).toEqual(["payment.succeeded", "payment.succeeded"]);
    expect(typesOf(refundsOnly)).toEqual(["refund.failed", "refund.succeeded"]);
    expect(typesOf(everything)).toEqual([
      "payment.failed",
      "payment.succeeded",
      "payment.succeeded",
      "refund.failed",
      "refund.succeeded",
    ]);
    expect(typesOf(live)).toEqual(["refund.succeeded"]);
    expect(typesOf(otherTenants)).toEqual([]);
    expect(typesOf(disabled)).toEqual([]);
    expect(deliveries.every((d) => d.status === "pending" && d.next_attempt_at !== null)).toBe(true);
    expect(worker.wakes).toBeGreaterThan(wakesBefore);
  });

  it.skipIf(!runnable)("fans each of many events out exactly once", async () => {
    const knex = db.knex;
    const tenant = await addTenant(knex);
    const endpoint = await addEndpoint(knex, { tenantId: tenant });
    const events = await appendEvents(knex, { tenantId: tenant, count: 300 });
    await waitFor("300 deliveries", async () =>
      (await countWhere(knex, "webhook_deliveries", (q) => q.where({ endpoint_id: endpoint }))) === 300,
    );
    expect(await countWhere(knex, "webhook_events", (q) => q.whereIn("id", events))).toBe(events.length);
    if (transport === "jetstream") {
      expect(await countWhere(knex, "outbox_events", (q) => q.whereIn("id", events).whereNull("published_at"))).toBe(0);
    }
  });
});
