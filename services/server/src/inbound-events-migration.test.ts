import { afterAll, beforeAll, expect, it } from "vitest";
import type { Database } from "@onerouter/core";
import { createTestDatabase, describeEachEngine } from "@onerouter/core/testing";
import { InboundEventRecorder } from "@onerouter/routing";
import { allMigrations } from "./app";

// A database made by the release that kept payment webhooks and delivery
// callbacks in tables of their own (inbound_webhook_events,
// message_callbacks) moves their rows into routing's inbound_provider_events,
// and what was stored there still counts as stored.
describeEachEngine("inbound provider events carried over from the payments and messaging tables", (engine) => {
  const previousRelease = allMigrations.filter((m) => m.name < "20261204_010");
  const receivedAt = new Date("2026-12-01T10:00:00Z");
  const webhookBody = Buffer.from('{"id":"evt_1","type":"payment.succeeded"}');
  const callbackBody = Buffer.from('[{"event":"delivered","id":"cb_1"},{"event":"opened","id":"cb_2"}]');
  let db: Database;
  let applied: string[];

  beforeAll(async () => {
    db = await createTestDatabase(engine);
    await db.migrate(previousRelease);
    await db.knex("tenants").insert({ id: "ten_old", name: "Old Shop" });
    const row = { tenant_id: "ten_old", environment: "test", received_at: receivedAt };
    await db.knex("inbound_webhook_events").insert({
      ...row,
      id: "whin_1",
      provider: "stripe",
      provider_account_id: "pa_pay",
      provider_event_id: "evt_1",
      payload: webhookBody,
    });
    await db.knex("message_callbacks").insert(
      ["cb_1", "cb_2"].map((eventId, i) => ({
        ...row,
        id: `mcb_${i}`,
        provider: "sendgrid",
        provider_account_id: "pa_msg",
        provider_event_id: eventId,
        payload: callbackBody,
      })),
    );
    applied = await db.migrate(allMigrations);
  }, 120_000);
  afterAll(async () => db?.close());

  it("moves every row with its category and body, and drops the old tables", async () => {
    expect(applied).toEqual(
      expect.arrayContaining([
        "20261204_010_routing_inbound_provider_events",
        "20261204_011_payments_drop_inbound_webhook_events",
        "20261204_012_messaging_drop_message_callbacks",
      ]),
    );
    const rows = (await db.knex("inbound_provider_events").orderBy("id")) as {
      id: string;
      category: string;
      provider_account_id: string;
      provider_event_id: string;
      payload: Uint8Array;
      received_at: Date;
    }[];
    expect(rows.map((r) => [r.id, r.category, r.provider_account_id, r.provider_event_id])).toEqual([
      ["mcb_0", "messaging", "pa_msg", "cb_1"],
      ["mcb_1", "messaging", "pa_msg", "cb_2"],
      ["whin_1", "payments", "pa_pay", "evt_1"],
    ]);
    expect(rows.map((r) => Buffer.from(r.payload).toString("utf8"))).toEqual([callbackBody, callbackBody, webhookBody].map(String));
    expect(rows.every((r) => new Date(r.received_at).getTime() === receivedAt.getTime())).toBe(true);
    expect(await db.knex.schema.hasTable("inbound_webhook_events")).toBe(false);
    expect(await db.knex.schema.hasTable("message_callbacks")).toBe(false);
  });

  it("takes an event stored before the move as a duplicate, and applies only news", async () => {
    const account = { id: "pa_pay", tenantId: "ten_old", environment: "test", provider: "stripe", category: "payments" } as const;
    const appliedEvents: string[] = [];
    const recorder = new InboundEventRecorder(db.knex);
    const record = (providerEventId: string) =>
      recorder.record(account, [{ providerEventId }], webhookBody, async (_trx, event) => {
        appliedEvents.push(event.providerEventId);
      });
    expect(await record("evt_1")).toBe("duplicate");
    expect(await record("evt_2")).toBe("applied");
    expect(appliedEvents).toEqual(["evt_2"]);
  });
});
