import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { EventType } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import type { Knex } from "knex";
import { afterAll, beforeAll, expect, it } from "vitest";
import { adminMigrations } from "@onerouter/admin";
import { createTestDatabase, describeEachEngine } from "../test/database";
import type { Database } from "./db/database";
import { newId } from "./ids";
import { createLogger } from "./logging";
import { appendEvent, outboxMigrations } from "./outbox";
import { OutboxRetention } from "./outbox-retention";

const logger = createLogger("silent");
const day = 86_400_000;

describeEachEngine("outbox retention", (engine) => {
  let db: Database;
  let knex: Knex;
  let tenant: string;

  beforeAll(async () => {
    db = await createTestDatabase(engine);
    await db.migrate([...adminMigrations, ...outboxMigrations]);
    knex = db.knex;
    tenant = newId("ten");
    await knex("tenants").insert({ id: tenant, name: tenant });
  });
  afterAll(async () => db?.close());

  // One event in a given state.
  async function event(state: { ageDays: number; fannedOut: boolean; published: boolean }): Promise<string> {
    // One transaction: a running retention job must not see the event half made.
    return knex.transaction(async (trx) => {
      const { id } = await appendEvent(trx, {
        type: EventType.PAYMENT_SUCCEEDED,
        tenantId: tenant,
        environment: Environment.TEST,
        data: { case: "test", value: { message: "retention test" } },
      });
      const at = new Date(Date.now() - state.ageDays * day);
      await trx("outbox_events")
        .where({ id })
        .update({
          created_at: at,
          fanned_out_at: state.fannedOut ? at : null,
          published_at: state.published ? at : null,
        });
      return id;
    });
  }

  const exists = async (id: string) => (await knex("outbox_events").where({ id }).first("id")) !== undefined;

  it("in embedded mode prunes old events once they are fanned out", async () => {
    const old = await event({ ageDays: 31, fannedOut: true, published: false });
    const recent = await event({ ageDays: 29, fannedOut: true, published: false });
    const notFannedOut = await event({ ageDays: 40, fannedOut: false, published: false });

    const retention = new OutboxRetention(knex, logger, { retentionDays: 30, requirePublished: false });
    expect(await retention.prune()).toBe(1);

    expect(await exists(old)).toBe(false);
    expect(await exists(recent)).toBe(true);
    expect(await exists(notFannedOut)).toBe(true);
  });

  it("in JetStream mode prunes old events once they are published, which then carries them", async () => {
    const unpublished = await event({ ageDays: 60, fannedOut: true, published: false });
    const published = await event({ ageDays: 60, fannedOut: false, published: true });
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
      await expect.poll(() => exists(first), { timeout: 30_000 }).toBe(false);
      const second = await event({ ageDays: 2, fannedOut: true, published: false });
      await expect.poll(() => exists(second), { timeout: 30_000 }).toBe(false);
    } finally {
      await retention.stop();
    }
  });
});
