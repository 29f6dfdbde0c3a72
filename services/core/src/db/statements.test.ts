import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestDatabase, describeEachEngine } from "../../test/database";
import type { Database } from "./database";
import { columnInSql, columnsEqualSql, insertRowSql, insertRowsSql, runPrepared, updateSql } from "./statements";

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

  it("binds many values by position, and leaves a text naming identifiers (??) to knex", async () => {
    const values = Array.from({ length: 12 }, (_, i) => i + 1);
    const { rows } = await runPrepared<{ sum: number; last: string }>(db.knex, {
      sql: `select (${values.map(() => "?::int").join(" + ")}) as sum, ?::text as last`,
      bindings: [...values, "the last"],
    });
    expect(rows).toEqual([{ sum: 78, last: "the last" }]);
    const named = await runPrepared<{ n: number }>(db.knex, { sql: "select ?::int as ??", bindings: [7, "n"] });
    expect(named.rows).toEqual([{ n: 7 }]);
  });

  it("refuses bindings that do not fit the text before anything is sent", async () => {
    const statements: string[] = [];
    const count = (q: { sql: string }) => statements.push(q.sql);
    db.knex.on("query", count);
    try {
      await expect(runPrepared(db.knex, { sql: "select ?::int + ?::int as n", bindings: [1] })).rejects.toThrow("Expected 2 bindings, saw 1");
      await expect(runPrepared(db.knex, { sql: "select ?::int + ?::int as n", bindings: [1, undefined] })).rejects.toThrow("Undefined binding(s)");
      await expect(runPrepared(db.knex, { sql: "select ?::text as n", bindings: [db.knex.raw("now()")] })).rejects.toThrow("may not be knex queries");
    } finally {
      db.knex.off("query", count);
    }
    expect(statements).toEqual([]);
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

  it("inserts rows from their JSON text: bigints beyond a double's precision as written, Buffers as bytea, jsonb as the value, null and dates as given", async () => {
    await db.knex.schema.createTable("statement_records", (t) => {
      t.text("id").primary();
      t.bigInteger("amount");
      t.binary("payload");
      t.jsonb("metadata");
      t.text("note");
      t.timestamp("at", { useTz: true });
    });
    const at = new Date("2026-12-06T01:02:03.456Z");
    const payload = Buffer.from([0, 1, 0xfe, 0xff, 0x5c]);
    const first = { id: "1", amount: 9007199254740993n, payload, metadata: { order: "it's \"quoted\"", nested: { n: 1 } }, note: null, at };
    const insert = insertRowSql("statement_records", first);
    await runPrepared(db.knex, insert);
    const rows = insertRowsSql("statement_records", [
      { id: "2", amount: -5n, payload: Buffer.alloc(0), metadata: [], note: "ü ☃", at },
      { id: "3", amount: 0n, payload: null, metadata: {}, note: "", at },
    ]);
    await runPrepared(db.knex, rows);
    // The row given is not changed by writing it.
    expect(first.amount).toBe(9007199254740993n);
    expect(first.payload).toBe(payload);
    const read = (await db.knex("statement_records").orderBy("id").select(db.knex.raw("amount::text as amount"), "payload", "metadata", "note", "at")) as Record<string, unknown>[];
    expect(read.map((r) => ({ ...r, payload: r.payload === null ? null : Buffer.from(r.payload as Uint8Array).toString("hex"), at: new Date(r.at as string).toISOString() }))).toEqual([
      { amount: "9007199254740993", payload: "0001feff5c", metadata: { order: "it's \"quoted\"", nested: { n: 1 } }, note: null, at: at.toISOString() },
      { amount: "-5", payload: "", metadata: [], note: "ü ☃", at: at.toISOString() },
      { amount: "0", payload: null, metadata: {}, note: "", at: at.toISOString() },
    ]);
  });
});
