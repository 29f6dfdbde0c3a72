import { create } from "@bufbuild/protobuf";
import { createContextValues, type HandlerContext } from "@connectrpc/connect";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { DeliveryStatus, ListDeliveryAttemptsRequestSchema, ListEventsRequestSchema } from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import { callerKey, createLogger, MasterKeyring, type Database } from "@onerouter/core";
import { createTestDatabase, indexConditionsOf, postgresAvailable } from "@onerouter/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventStreamHub } from "./event-stream/hub";
import { deliveryMethods } from "./webhook-service/deliveries";
import { eventMethods } from "./webhook-service/events";
import { migrated, testMasterKey } from "../test/fixtures";

// Every ListEvents and ListDeliveryAttempts filter narrows an index range
// within the caller's scope, so a filter that matches few rows never reads
// all of the tenant's.
describe.skipIf(!postgresAvailable())("webhook list filters on Postgres", () => {
  let db: Database;
  let events: ReturnType<typeof eventMethods>;
  let deliveries: ReturnType<typeof deliveryMethods>;
  const ctx = {
    values: createContextValues().set(callerKey, { tenantId: "ten_lists", environment: Environment.TEST, actor: "api_key:lists", scopes: [] }),
  } as HandlerContext;
  beforeAll(async () => {
    db = await migrated(await createTestDatabase("postgres"));
    const deps = { knex: db.knex, masterKeys: new MasterKeyring(testMasterKey), eventHub: new EventStreamHub(db.knex, createLogger("silent")) };
    // The tenant's events are all payments', so the planner knows a refund
    // prefix matches few of them.
    await db.knex("tenants").insert({ id: "ten_lists", name: "lists" });
    await db.knex.raw(
      `insert into webhook_events (id, tenant_id, environment, type, payload, created_at)
       select 'evt_' || i, 'ten_lists', 'test', 'payment.succeeded', '', now() - i * interval '1 second' from generate_series(1, 5000) i`,
    );
    await db.knex.raw("analyze webhook_events");
    events = eventMethods(deps);
    deliveries = deliveryMethods(deps);
  }, 120_000);
  afterAll(async () => db?.close());

  const eventFilters: [string, string[], string][] = [
    ["an event type", ["payment.failed"], "type"],
    ["an event type prefix", ["refund.*"], "type"],
  ];
  for (const [name, eventTypes, column] of eventFilters) {
    it(`lists events by ${name} through an index`, async () => {
      const plan = await indexConditionsOf(db.knex, async () => events.listEvents(create(ListEventsRequestSchema, { eventTypes }), ctx));
      expect(plan.seqScans).toEqual([]);
      expect(plan.conditions.some((c) => c.includes(column) && c.includes("tenant_id"))).toBe(true);
    });
  }

  const attemptFilters: [string, { endpointId?: string; eventId?: string; status?: DeliveryStatus }, string][] = [
    ["endpoint", { endpointId: "we_1" }, "endpoint_id"],
    ["event", { eventId: "evt_1" }, "event_id"],
    ["status", { status: DeliveryStatus.FAILED }, "status"],
  ];
  for (const [name, filter, column] of attemptFilters) {
    it(`lists delivery attempts by ${name} through an index`, async () => {
      const plan = await indexConditionsOf(db.knex, async () => deliveries.listDeliveryAttempts(create(ListDeliveryAttemptsRequestSchema, filter), ctx));
      expect(plan.seqScans).toEqual([]);
      expect(plan.conditions.some((c) => c.includes(column) && c.includes("tenant_id"))).toBe(true);
    });
  }
});
