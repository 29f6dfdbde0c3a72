import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { EventType } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { appendEvent, newId, type Database } from "@onerouter/core";
import { createTestDatabase, describeEachEngine } from "@onerouter/core/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { webhookMigrations } from "./migrations";
import { addEndpoint, transportMigrations } from "../test/fixtures";

// A data folder made before webhooks kept its own copy of events: the events
// already fanned out are copied from the outbox and their deliveries keep
// pointing at them; the rest are left for fan-out to copy.

const eventsMigration = webhookMigrations.find((m) => m.name === "20261204_020_webhooks_events")!;
const upToEvents = transportMigrations.filter((m) => m.name <= eventsMigration.name);

// A fresh PGlite migrates slowly on a busy machine.
const migrationTimeoutMs = 180_000;

describeEachEngine("the webhook events migration", (engine) => {
  let db: Database;
  beforeAll(async () => {
    db = await createTestDatabase(engine);
  }, migrationTimeoutMs);
  afterAll(async () => db?.close());

  it("copies the events already fanned out and moves the deliveries onto the copies", async () => {
    const knex = db.knex;
    await db.migrate(upToEvents.filter((m) => m !== eventsMigration));
    const tenantId = newId("ten");
    await knex("tenants").insert({ id: tenantId, name: tenantId });
    const endpointId = await addEndpoint(knex, { tenantId });
    const append = () =>
      appendEvent(knex, {
        type: EventType.PAYMENT_SUCCEEDED,
        tenantId,
        environment: Environment.TEST,
        data: { case: "test", value: { message: "before the copy" } },
      });
    const fannedOut = await append();
    const pending = await append();
    await knex("outbox_events").where({ id: fannedOut.id }).update({ fanned_out_at: new Date() });
    await knex("webhook_deliveries").insert({ id: newId("dlv"), tenant_id: tenantId, environment: "test", event_id: fannedOut.id, endpoint_id: endpointId });

    expect(await db.migrate(upToEvents)).toEqual([eventsMigration.name]);

    const outbox = await knex("outbox_events").where({ id: fannedOut.id }).first();
    const copies = await knex("webhook_events").where({ tenant_id: tenantId });
    expect(copies).toHaveLength(1);
    expect(copies[0]).toMatchObject({ id: fannedOut.id, environment: "test", type: "payment.succeeded" });
    expect(new Uint8Array(copies[0].payload)).toEqual(new Uint8Array(outbox.payload));
    expect(new Date(copies[0].created_at)).toEqual(new Date(outbox.created_at));
    expect(await knex("webhook_events").where({ id: pending.id }).first()).toBeUndefined();

    // Deliveries now hang off the copy: pruning it takes them, pruning the outbox row does not.
    await knex("outbox_events").where({ id: fannedOut.id }).delete();
    expect(await knex("webhook_deliveries").where({ event_id: fannedOut.id })).toHaveLength(1);
    await knex("webhook_events").where({ id: fannedOut.id }).delete();
    expect(await knex("webhook_deliveries").where({ event_id: fannedOut.id })).toHaveLength(0);
  }, migrationTimeoutMs);
});
