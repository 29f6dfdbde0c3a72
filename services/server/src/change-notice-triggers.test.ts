import { afterAll, beforeAll, expect, it } from "vitest";
import type { Database } from "@onerouter/core";
import { changeNoticeSetting } from "@onerouter/core/migrations";
import { createTestDatabase } from "@onerouter/core/testing";
import { allMigrations } from "./app";

// The gatekeeper's change-notice triggers are skipped by a session that sets
// core's changeNoticeSetting to "off", as a CLI command on an embedded data
// folder does. Their migration spells the setting out; this holds the two
// together.

let db: Database;
beforeAll(async () => {
  db = await createTestDatabase("pglite");
  await db.migrate(allMigrations);
}, 120_000);
afterAll(async () => db?.close());

it("puts the setting CLI commands turn off in the condition of the API key change-notice triggers", async () => {
  const { rows } = (await db.knex.raw(
    "select tgname, pg_get_triggerdef(oid) as definition from pg_trigger where tgname like '%gatekeeper_changed' order by tgname",
  )) as { rows: { tgname: string; definition: string }[] };
  expect(rows.map((row) => row.tgname)).toEqual(["api_keys_gatekeeper_changed", "tenants_gatekeeper_changed"]);
  for (const { definition } of rows) expect(definition).toContain(`WHEN ((current_setting('${changeNoticeSetting}'::text, true) IS DISTINCT FROM 'off'::text))`);
});
