import type { Knex } from "knex";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestDatabase, describeEachEngine } from "../test/database";
import type { Database } from "./db/database";
import { createRollupTrigger, rebuildRollup, utcHourSql, type RollupDefinition } from "./rollups";

// A source whose rows enter the rollup, move between its keys, change their
// sums within a key and leave it (a draft is not counted), as payments and
// messages do when they settle.
const itemRollup: RollupDefinition = {
  source: "items",
  rollup: "item_rollups",
  stripe: "{r}.id",
  keys: { tenant_id: "{r}.tenant_id", hour: utcHourSql("{r}.created_at"), status: "{r}.status" },
  sums: { items: "1", amount: "{r}.amount" },
  where: "{r}.status <> 'draft'",
};

describeEachEngine("rollup triggers", (engine) => {
  let db: Database;
  let knex: Knex;

  beforeAll(async () => {
    db = await createTestDatabase(engine);
    knex = db.knex;
    await knex.schema.createTable("items", (t) => {
      t.text("id").primary();
      t.text("tenant_id").notNullable();
      t.text("status").notNullable();
      t.bigInteger("amount").notNullable();
      t.text("note").notNullable().defaultTo("");
      t.timestamp("created_at", { useTz: true }).notNullable();
    });
    await knex.schema.createTable("item_rollups", (t) => {
      t.text("tenant_id").notNullable();
      t.timestamp("hour", { useTz: true }).notNullable();
      t.text("status").notNullable();
      t.smallint("stripe").notNullable();
      t.bigInteger("items").notNullable();
      t.bigInteger("amount").notNullable();
      t.primary(["tenant_id", "hour", "status", "stripe"]);
    });
    await createRollupTrigger(knex, itemRollup);
  });
  afterAll(async () => db?.close());

  // The rollup's rows with anything in them, in one order.
  const sums = async () =>
    (
      (await knex("item_rollups").select("tenant_id", "hour", "status", "stripe", "items", "amount")) as {
        tenant_id: string;
        hour: Date;
        status: string;
        stripe: number;
        items: string | number;
        amount: string | number;
      }[]
    )
      .filter((r) => Number(r.items) !== 0 || Number(r.amount) !== 0)
      .map((r) => `${r.tenant_id} ${new Date(r.hour).toISOString()} ${r.status} ${r.stripe}: ${Number(r.items)} items, ${Number(r.amount)}`)
      .sort();

  it("keeps the sums the rows add up to through inserts, moves between keys, changes within a key and rows leaving", async () => {
    const at = (hour: number) => new Date(Date.UTC(2026, 11, 1, hour, 17));
    const statuses = ["draft", "processing", "succeeded", "failed"];
    for (let i = 0; i < 40; i++) {
      await knex("items").insert({
        id: `item_${i}`,
        tenant_id: `ten_${i % 3}`,
        status: statuses[i % 4],
        amount: 100 + i,
        created_at: at(i % 2),
      });
    }
    // Each row changes a few times, in steps that exercise every path: a
    // new status (another key), a new amount (same key), into and out of
    // draft, and a column the rollup does not read.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 40; i++) {
        const id = `item_${i}`;
        switch ((i + round) % 5) {
          case 0:
            await knex("items").where({ id }).update({ status: statuses[(i + round + 1) % 4] });
            break;
          case 1:
            await knex("items").where({ id }).update({ amount: 1000 + i * round });
            break;
          case 2:
            await knex("items").where({ id }).update({ status: "succeeded", amount: 7 + round });
            break;
          case 3:
            await knex("items").where({ id }).update({ note: `round ${round}` });
            break;
          default:
            await knex("items").where({ id }).update({ status: "draft" });
        }
      }
    }
    const kept = await sums();
    expect(kept.length).toBeGreaterThan(10);
    // What a set-based recount of the rows gives.
    await rebuildRollup(knex, itemRollup);
    expect(kept).toEqual(await sums());
  });

  it("replaces a trigger of the earlier form and drops the function that one called", async () => {
    // Earlier triggers added each row through <rollup>_apply(row, sign).
    await knex.raw(`create or replace function item_rollups_apply(r items, sign integer) returns void language plpgsql as $fn$ begin end $fn$`);
    await createRollupTrigger(knex, itemRollup);
    const { rows } = await knex.raw(`select proname from pg_proc where proname like 'item_rollups_%' order by proname`);
    expect(rows.map((r: { proname: string }) => r.proname)).toEqual(["item_rollups_track"]);
    // The new trigger keeps the sums: a row entering and then moving.
    await knex("items").insert({ id: "item_after", tenant_id: "ten_0", status: "processing", amount: 5, created_at: new Date(Date.UTC(2026, 11, 1, 0, 5)) });
    await knex("items").where({ id: "item_after" }).update({ status: "succeeded" });
    const kept = await sums();
    await rebuildRollup(knex, itemRollup);
    expect(kept).toEqual(await sums());
  });
});
