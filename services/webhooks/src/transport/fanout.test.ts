import { EventType } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { newId, type Database } from "@onerouter/core";
import { createTestDatabase, describeEachEngine } from "@onerouter/core/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { fanOut, type FeedEvent } from "./fanout";
import { addEndpoint, addTenant, appendEvents, countWhere, feedEvents, migrated } from "../../test/fixtures";

describeEachEngine("fan-out", (engine) => {
  let db: Database;
  beforeAll(async () => {
    db = await migrated(await createTestDatabase(engine));
  });
  afterAll(async () => db?.close());

  async function pendingEvents(count: number): Promise<{ events: FeedEvent[]; endpoint: string }> {
    const tenantId = await addTenant(db.knex);
    const endpoint = await addEndpoint(db.knex, { tenantId });
    const ids = await appendEvents(db.knex, { tenantId, count });
    return { events: await feedEvents(db.knex, ids), endpoint };
  }

  it("repeats harmlessly after a rollback and never after a commit", async () => {
    const { events, endpoint } = await pendingEvents(3);
    const deliveries = () => countWhere(db.knex, "webhook_deliveries", (q) => q.where({ endpoint_id: endpoint }));

    // A crash before the commit: nothing of the fan-out remains.
    await expect(
      db.knex.transaction(async (trx) => {
        await fanOut(trx, events);
        throw new Error("crashed before commit");
      }),
    ).rejects.toThrow("crashed before commit");
    expect(await deliveries()).toBe(0);

    expect(await db.knex.transaction((trx) => fanOut(trx, events))).toEqual([endpoint, endpoint, endpoint]);
    expect(await deliveries()).toBe(3);
    // Handed out again after the commit (a redelivered message): nothing more.
    expect(await db.knex.transaction((trx) => fanOut(trx, events))).toHaveLength(0);
    expect(await deliveries()).toBe(3);
  });

  it("passes by events of a tenant this database does not have", async () => {
    const { events } = await pendingEvents(1);
    const unknown: FeedEvent = { ...events[0]!, id: "evt_from_another_deployment", tenantId: "ten_of_another_deployment" };
    expect(await db.knex.transaction((trx) => fanOut(trx, [unknown, ...events]))).toHaveLength(1);
    expect(await countWhere(db.knex, "webhook_events", (q) => q.where({ id: unknown.id }))).toBe(0);
  });

  it("keeps its own copy of each event it fans out, whether or not an endpoint wants it", async () => {
    const tenantId = await addTenant(db.knex);
    const [event] = await feedEvents(db.knex, await appendEvents(db.knex, { tenantId, count: 1 }));
    expect(await db.knex.transaction((trx) => fanOut(trx, [event!]))).toHaveLength(0);
    const copy = await db.knex("webhook_events").where({ id: event!.id }).first();
    expect(copy).toMatchObject({ tenant_id: tenantId, environment: "test", type: event!.type });
    expect(new Date(copy.created_at)).toEqual(event!.createdAt);
    expect(new Uint8Array(copy.payload)).toEqual(event!.payload);
  });

  it("owes an endpoint only the events that happened after it was registered", async () => {
    const tenantId = await addTenant(db.knex);
    const [before] = await appendEvents(db.knex, { tenantId, count: 1 });
    await new Promise((r) => setTimeout(r, 5));
    const endpoint = await addEndpoint(db.knex, { tenantId });
    const [after] = await appendEvents(db.knex, { tenantId, count: 1 });
    const events = await feedEvents(db.knex, [before!, after!]);
    expect(await db.knex.transaction((trx) => fanOut(trx, events))).toEqual([endpoint]);
    const owed = await db.knex("webhook_deliveries").where({ endpoint_id: endpoint }).pluck("event_id");
    expect(owed).toEqual([after]);
  });

  it("owes an endpoint an event of the millisecond it was registered in", async () => {
    const tenantId = await addTenant(db.knex);
    const [event] = await feedEvents(db.knex, await appendEvents(db.knex, { tenantId, count: 1 }));
    // Registered within the event's millisecond, after it: an event's time has no finer part.
    const endpoint = await addEndpoint(db.knex, { tenantId });
    await db.knex("webhook_endpoints").where({ id: endpoint }).update({ created_at: db.knex.raw("?::timestamptz + interval '500 microseconds'", [event!.createdAt]) });
    expect(await fanOut(db.knex, [event!])).toEqual([endpoint]);
  });

  it("owes an event to the enabled endpoints whose filters match its type", async () => {
    const tenantId = await addTenant(db.knex);
    const endpoints = {
      every: await addEndpoint(db.knex, { tenantId }),
      exact: await addEndpoint(db.knex, { tenantId, eventTypes: ["payment.succeeded"] }),
      otherExact: await addEndpoint(db.knex, { tenantId, eventTypes: ["refund.succeeded"] }),
      prefix: await addEndpoint(db.knex, { tenantId, eventTypes: ["refund.*", "payment.*"] }),
      // "pay.*" is the types under "pay.", not every type that starts "pay".
      shortPrefix: await addEndpoint(db.knex, { tenantId, eventTypes: ["pay.*"] }),
      disabled: await addEndpoint(db.knex, { tenantId, status: "disabled" }),
      otherEnvironment: await addEndpoint(db.knex, { tenantId, environment: "live" }),
    };
    await new Promise((r) => setTimeout(r, 5));
    const [event] = await feedEvents(db.knex, await appendEvents(db.knex, { tenantId, type: EventType.PAYMENT_SUCCEEDED, count: 1 }));
    const owed = await fanOut(db.knex, [event!]);
    expect([...owed].sort()).toEqual([endpoints.every, endpoints.exact, endpoints.prefix].sort());
    const deliveries = await db.knex("webhook_deliveries").where({ event_id: event!.id });
    expect(deliveries.map((d) => d.endpoint_id).sort()).toEqual([...owed].sort());
    for (const delivery of deliveries) {
      expect(delivery).toMatchObject({ tenant_id: tenantId, environment: "test", status: "pending", attempt_count: 0 });
      // Made in SQL, as newId makes them in the process.
      expect(delivery.id).toMatch(/^dlv_[0-9a-hjkmnp-tv-z]{26}$/);
    }
  });

  it("makes ids in SQL that sort by time with those made in the process", async () => {
    const before = newId("dlv");
    await new Promise((r) => setTimeout(r, 2));
    const { rows } = (await db.knex.raw("select onerouter_new_id('dlv') as a, onerouter_new_id('dlv') as b")) as { rows: { a: string; b: string }[] };
    await new Promise((r) => setTimeout(r, 2));
    const after = newId("dlv");
    const { a, b } = rows[0]!;
    expect(a).toMatch(/^dlv_[0-9a-hjkmnp-tv-z]{26}$/);
    expect(a).not.toBe(b);
    expect([after, a, before].sort()).toEqual([before, a, after]);
  });
});
