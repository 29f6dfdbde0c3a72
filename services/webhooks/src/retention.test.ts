import { ConfigError, createLogger, loadConfig, newId, type Database, type Knex } from "@onerouter/core";
import { createTestDatabase, describeEachEngine } from "@onerouter/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebhookEventRetention } from "./retention";
import { fanOut } from "./transport/fanout";
import { addEndpoint, addTenant, appendEvents, countWhere, feedEvents, migrated, waitFor } from "../test/fixtures";

const logger = createLogger("silent");
const day = 86_400_000;

describe("ONEROUTER_EVENT_RETENTION_DAYS", () => {
  it("defaults to 30 days and rejects a value that is not a whole number of days", () => {
    expect(loadConfig({}).eventRetentionDays).toBe(30);
    expect(loadConfig({ ONEROUTER_EVENT_RETENTION_DAYS: "7" }).eventRetentionDays).toBe(7);
    expect(() => loadConfig({ ONEROUTER_EVENT_RETENTION_DAYS: "0" })).toThrow(ConfigError);
    expect(() => loadConfig({ ONEROUTER_EVENT_RETENTION_DAYS: "a week" })).toThrow(/ONEROUTER_EVENT_RETENTION_DAYS/);
  });
});

describeEachEngine("webhook event retention", (engine) => {
  let db: Database;
  let knex: Knex;
  let tenant: string;
  let endpoint: string;

  beforeAll(async () => {
    db = await migrated(await createTestDatabase(engine));
    knex = db.knex;
    tenant = await addTenant(knex);
    endpoint = await addEndpoint(knex, { tenantId: tenant });
  });
  afterAll(async () => db?.close());

  // One fanned-out event of a given age, with a delivery and an attempt hanging off it.
  async function event(ageDays: number): Promise<string> {
    // One transaction: a running retention job must not see the event half made.
    return knex.transaction(async (trx) => {
      const [fed] = await feedEvents(trx, await appendEvents(trx, { tenantId: tenant, count: 1 }));
      await fanOut(trx, [fed!]);
      const id = fed!.id;
      await trx("webhook_events")
        .where({ id })
        .update({ created_at: new Date(Date.now() - ageDays * day) });
      const delivery = await trx("webhook_deliveries").where({ event_id: id, endpoint_id: endpoint }).first("id");
      await trx("webhook_delivery_attempts").insert({
        id: newId("dlva"),
        delivery_id: delivery.id,
        tenant_id: tenant,
        environment: "test",
        event_id: id,
        endpoint_id: endpoint,
        attempt_number: 1,
        status: "succeeded",
      });
      return id;
    });
  }

  const exists = async (id: string) => (await countWhere(knex, "webhook_events", (q) => q.where({ id }))) === 1;

  it("prunes old events with their deliveries and attempts, and leaves the outbox to core", async () => {
    const old = await event(31);
    const recent = await event(29);

    const retention = new WebhookEventRetention(knex, logger, { retentionDays: 30 });
    expect(await retention.prune()).toBe(1);

    expect(await exists(old)).toBe(false);
    expect(await countWhere(knex, "webhook_deliveries", (q) => q.where({ event_id: old }))).toBe(0);
    expect(await countWhere(knex, "webhook_delivery_attempts", (q) => q.where({ event_id: old }))).toBe(0);
    expect(await countWhere(knex, "outbox_events", (q) => q.where({ id: old }))).toBe(1);
    expect(await exists(recent)).toBe(true);
    expect(await countWhere(knex, "webhook_deliveries", (q) => q.where({ event_id: recent }))).toBe(1);
  });

  it("prunes in batches until nothing past retention is left", async () => {
    const ids = await Promise.all(Array.from({ length: 7 }, () => event(90)));
    const retention = new WebhookEventRetention(knex, logger, { retentionDays: 30, batchSize: 3 });
    expect(await retention.prune()).toBe(7);
    for (const id of ids) expect(await exists(id)).toBe(false);
  });

  it("runs at start and then periodically", async () => {
    const retention = new WebhookEventRetention(knex, logger, { retentionDays: 1, intervalMs: 50 });
    retention.start();
    try {
      const first = await event(2);
      await waitFor("the first old event pruned", async () => !(await exists(first)));
      const second = await event(2);
      await waitFor("the second old event pruned", async () => !(await exists(second)));
    } finally {
      await retention.stop();
    }
  });
});
