import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestDatabase, describeEachEngine } from "../../test/database";
import type { Database } from "./database";
import { runPrepared } from "./statements";

describeEachEngine("runPrepared", (engine) => {
  let db: Database;
  beforeAll(async () => {
    db = await createTestDatabase(engine);
  });
  afterAll(() => db.knex.destroy());

  it("runs statements of different texts and the same text again with new bindings", async () => {
    const prepared = await db.knex.transaction(async (trx) => {
      const answers = [];
      for (const n of [1, 2]) {
        answers.push((await runPrepared<{ n: number }>(trx, { sql: "select ?::int + 1 as n", bindings: [n] })).rows[0]!.n);
        answers.push((await runPrepared<{ n: number }>(trx, { sql: "select ?::int * 10 as n", bindings: [n] })).rows[0]!.n);
      }
      expect(answers).toEqual([2, 10, 3, 20]);
      if (engine === "pglite") return [];
      const { rows } = (await trx.raw("select statement from pg_prepared_statements where name like 'onerouter_%' order by statement")) as { rows: { statement: string }[] };
      return rows.map((r) => r.statement);
    });
    // On Postgres each text is prepared once on the connection, however often it runs.
    if (engine === "postgres") expect(prepared).toEqual(["select $1::int * 10 as n", "select $1::int + 1 as n"]);
  });
});
