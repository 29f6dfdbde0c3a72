import { ConfigError, createLogger, loadConfig, newId, type Database, type Knex } from "@onerouter/core";
import { createTestDatabase, describeEachEngine } from "@onerouter/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OutboxRetention } from "./retention";
import { addEndpoint, addTenant, appendEvents, countWhere, migrated, waitFor } from "../test/fixtures";

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

describeEachEngine("outbox retention", (engine) => {
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

  // One event in a given state, with a delivery and an attempt hanging off it.
  async function event(state: { ageDays: number; fannedOut: boolean; published: boolean }): Promise<string> {
    // One transaction: a running retention job must not see the event half made.
    return knex.transaction(async (trx) => {
      const [id] = await appendEvents(trx, { tenantId: tenant, count: 1 });
      const at = new Date(Date.now() - state.ageDays * day);
      await trx("outbox_events")
        .where({ id })
        .update({
          created_at: at,
          fanned_out_at: state.fannedOut ? at : null,
          published_at: state.published ? at : null,
        });
      const deliveryId = newId("dlv");
      await trx("webhook_deliveries").insert({
        id: deliveryId,
        tenant_id: tenant,
        environment: "test",
        event_id: id,
        endpoint_id: endpoint,
        status: "succeeded",
    });
    await trx("webhook_delivery_attempts").insert({
      id: newId("dlva"),
      delivery_id: deliveryId,
      tenant_id: tenant,
      environment: "test",
      event_id: id,
      endpoint_id: endpoint,
      attempt_number: 1,
      status: "succeeded",
    });
    return id!;
    });
  }

  const exists = async (id: string) => (await countWhere(knex, "outbox_events", (q) => q.where({ id }))) === 1;

  it("prunes old events that are fanned out, with their deliveries and attempts", async () => {
    const old = await event({ ageDays: 31, fannedOut: true, published: false });
    const recent = await event({ ageDays: 29, fannedOut: true, published: false });
    const notFannedOut = await event({ ageDays: 40, fannedOut: false, published: false });

    const retention = new OutboxRetention(knex, logger, { retentionDays: 30, requirePublished: false });
    expect(await retention.prune()).toBe(1);

    expect(await exists(old)).toBe(false);
    expect(await countWhere(knex, "webhook_deliveries", (q) => q.where({ event_id: old }))).toBe(0);
    expect(await countWhere(knex, "webhook_delivery_attempts", (q) => q.where({ event_id: old }))).toBe(0);
    expect(await exists(recent)).toBe(true);
    expect(await exists(notFannedOut)).toBe(true);
    expect(await countWhere(knex, "webhook_deliveries", (q) => q.where({ event_id: recent }))).toBe(1);
  });

  it("in JetStream mode also waits until the event is published", async () => {
    const unpublished = await event({ ageDays: 60, fannedOut: true, published: false });
    const published = await event({ ageDays: 60, fannedOut: true, published: true });
    const retention = new OutboxRetention(knex, logger, { retentionDays: 30, requirePublished: true });
    await retention.prune();
    expect(await exists(unpublished)).toBe(true);
    expect(await exists(published)).toBe(false);
  });

  it("prunes in batches until nothing past retention is left", async () => {
    const ids = await Promise.all(Array.from({ length: 7 }, () => event({ ageDays: 90, fannedOut: true, published: true })));
    const retention = new OutboxRetention(knex, logger, { retentionDays: 30, requirePublished: true, batchSize: 3 });
    expect(await retention.prune()).toBe(7);
    for (const id of ids) expect(await exists(id)).toBe(false);
  });

  it("runs at start and then periodically", async () => {
    const retention = new OutboxRetention(knex, logger, { retentionDays: 1, requirePublished: false, intervalMs: 50 });
    retention.start();
    try {
      const first = await event({ ageDays: 2, fannedOut: true, published: false });
      await waitFor("the first old event pruned", async () => !(await exists(first)));
      const second = await event({ ageDays: 2, fannedOut: true, published: false });
      await waitFor("the second old event pruned", async () => !(await exists(second)));
    } finally {
      await retention.stop();
    }
  });
});
