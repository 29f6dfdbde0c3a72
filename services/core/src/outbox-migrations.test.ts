import { afterEach, expect, it } from "vitest";
import { adminMigrations } from "@onerouter/admin";
import { createTestDatabase, describeEachEngine } from "../test/database";
import type { Database } from "./db/database";
import { outboxProgressMigration } from "./db/outbox-progress-migration";
import { outboxMigrations } from "./outbox";

// The outbox's progress columns and indexes belong to core; data folders made
// when the webhooks migration added them must migrate cleanly too.

// A fresh PGlite migrates slowly on a busy machine.
const migrationTimeoutMs = 180_000;

describeEachEngine("the outbox's progress columns", (engine) => {
  let db: Database;
  afterEach(async () => db.close());

  async function outboxProgress(database: Database) {
    const columns = await database.knex("information_schema.columns").where({ table_name: "outbox_events" }).pluck("column_name");
    const indexes = await database.knex("pg_indexes").where({ tablename: "outbox_events" }).pluck("indexname");
    return {
      columns: columns.filter((c: string) => ["fanned_out_at", "relay_claimed_until"].includes(c)).sort(),
      indexes: indexes.filter((i: string) => i.startsWith("outbox_events_pending_")).sort(),
    };
  }

  const expected = {
    columns: ["fanned_out_at", "relay_claimed_until"],
    indexes: ["outbox_events_pending_fanout", "outbox_events_pending_publish"],
  };

  it("gives a new database the outbox's fan-out and relay columns and indexes", async () => {
    db = await createTestDatabase(engine);
    await db.migrate([...adminMigrations, ...outboxMigrations]);
    expect(await outboxProgress(db)).toEqual(expected);
  }, migrationTimeoutMs);

  it("migrates a database whose outbox already has them", async () => {
    db = await createTestDatabase(engine);
    const earlier = outboxMigrations.filter((m) => m !== outboxProgressMigration);
    await db.migrate([...adminMigrations, ...earlier]);
    // What the webhooks migration did to the outbox before core owned it.
    await db.knex.schema.alterTable("outbox_events", (t) => {
      t.timestamp("fanned_out_at", { useTz: true });
      t.timestamp("relay_claimed_until", { useTz: true });
    });
    await db.knex.raw("create index outbox_events_pending_fanout on outbox_events (created_at) where fanned_out_at is null");
    await db.knex.raw("create index outbox_events_pending_publish on outbox_events (created_at) where published_at is null");

    expect(await db.migrate([...adminMigrations, ...outboxMigrations])).toEqual([outboxProgressMigration.name]);
    expect(await outboxProgress(db)).toEqual(expected);
  }, migrationTimeoutMs);
});
