import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestDatabase, describeEachEngine } from "../../test/database";
import type { Database } from "./database";
import { columnInSql, columnsEqualSql, runPrepared, updateSql } from "./statements";

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

  it("updates the rows whose columns equal the values given, a null matching null, and leaves a column set to undefined as it was", async () => {
    await db.knex.schema.createTable("statement_rows", (t) => {
      t.text("id");
      t.text("note");
      t.text("a");
      t.text("b");
    });
    await db.knex("statement_rows").insert([
      { id: "1", note: null, a: "a1", b: "b1" },
      { id: "1", note: "kept", a: "a2", b: "b2" },
      { id: "2", note: null, a: "a3", b: "b3" },
    ]);
    const where = columnsEqualSql({ id: "1", note: null });
    const update = updateSql("statement_rows", { a: "new", b: undefined }, where);
    const { rows } = await runPrepared<{ a: string }>(db.knex, { sql: `${update.sql} returning "a"`, bindings: update.bindings });
    expect(rows).toEqual([{ a: "new" }]);
    expect(await db.knex("statement_rows").orderBy(["a"]).select("a", "b")).toEqual([
      { a: "a2", b: "b2" },
      { a: "a3", b: "b3" },
      { a: "new", b: "b1" },
    ]);
    expect(() => updateSql("statement_rows", { a: undefined }, where)).toThrow(/sets no column/);
    const matching = async (ids: string[]) => {
      const ofIds = columnInSql("id", ids);
      const { rows } = await runPrepared<{ n: number }>(db.knex, { sql: `select count(*)::int as n from "statement_rows" where ${ofIds.sql}`, bindings: ofIds.bindings });
      return rows[0]!.n;
    };
    expect([await matching(["1", "2"]), await matching(["2"]), await matching([])]).toEqual([3, 1, 0]);
  });
});
