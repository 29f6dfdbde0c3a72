import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../../test/database";
import { createLogger } from "../logging";
import type { Database } from "./database";
import { runPrepared } from "./statements";
import { PGliteAutovacuum } from "./pglite-autovacuum";

interface TableStats {
  n_dead_tup: number;
  n_mod_since_analyze: number;
  last_vacuum: Date | null;
  last_analyze: Date | null;
  reltuples: number;
}

describe("PGliteAutovacuum", () => {
  let db: Database;
  const logger = createLogger("silent");
  beforeAll(async () => {
    db = await createTestDatabase("pglite");
  }, 120_000);
  afterAll(async () => db?.close());

  // A backend reports its counts at most once a second; the test's are reported now.
  const reportCounts = async () => {
    await db.knex.raw("select pg_stat_force_next_flush()");
    await db.knex.raw("select 1");
  };
  const stats = async (table: string): Promise<TableStats> => {
    await reportCounts();
    const { rows } = (await db.knex.raw(
      `select s.n_dead_tup::int, s.n_mod_since_analyze::int, s.last_vacuum, s.last_analyze, c.reltuples
         from pg_stat_user_tables s join pg_class c on c.oid = s.relid where s.relname = ?`,
      [table],
    )) as { rows: TableStats[] };
    return rows[0]!;
  };

  it("vacuums and analyzes a table with many dead rows, and leaves one with few changes alone", async () => {
    await db.knex.raw("create table churned (id integer primary key, status text not null)");
    await db.knex.raw("insert into churned select i, 'pending' from generate_series(1, 2000) i");
    await db.knex.raw("update churned set status = 'succeeded'");
    await db.knex.raw("create table quiet (id integer primary key)");
    await db.knex.raw("insert into quiet select i from generate_series(1, 10) i");
    const autovacuum = new PGliteAutovacuum(db.knex, logger);
    expect(await stats("churned")).toMatchObject({ n_dead_tup: 2000, last_vacuum: null, last_analyze: null, reltuples: -1 });

    const done = await autovacuum.round();
    expect(done).toContainEqual({ table: "public.churned", vacuum: true, analyze: true });
    expect(done.map((t) => t.table)).not.toContain("public.quiet");
    const after = await stats("churned");
    expect(after).toMatchObject({ n_dead_tup: 0, n_mod_since_analyze: 0, reltuples: 2000 });
    expect(after.last_vacuum).not.toBeNull();
    expect(after.last_analyze).not.toBeNull();
    expect((await stats("quiet")).last_vacuum).toBeNull();
    // Done, it is not due again until it changes again.
    expect((await autovacuum.due()).map((t) => t.table)).not.toContain("public.churned");
  });

  it("analyzes a table whose rows changed enough since its last analyze, without vacuuming it", async () => {
    await db.knex.raw("create table grown (id integer primary key)");
    await db.knex.raw("insert into grown select i from generate_series(1, 1000) i");
    const autovacuum = new PGliteAutovacuum(db.knex, logger);
    await autovacuum.round();
    // A tenth more rows, over the analyze threshold (50 + 10 %) but under the insert threshold for a vacuum (1000 + 20 %).
    await db.knex.raw("insert into grown select i from generate_series(1001, 1200) i");
    expect(await autovacuum.due()).toContainEqual({ table: "public.grown", vacuum: false, analyze: true });
    await autovacuum.round();
    expect((await stats("grown")).reltuples).toBe(1200);
  });

  it("finds a table due from counts the backend has not reported yet, as after statements run prepared", async () => {
    await db.knex.raw("create table prepared_writes (id integer primary key)");
    await reportCounts();
    for (let i = 0; i < 60; i++) await runPrepared(db.knex, { sql: "insert into prepared_writes values (?)", bindings: [i] });
    expect(await new PGliteAutovacuum(db.knex, logger).due()).toContainEqual({ table: "public.prepared_writes", vacuum: false, analyze: true });
  });

  it("runs rounds on its own once started, until stopped", async () => {
    await db.knex.raw("create table later (id integer primary key)");
    await db.knex.raw("insert into later select i from generate_series(1, 500) i");
    const autovacuum = new PGliteAutovacuum(db.knex, logger, { intervalMs: 50 });
    autovacuum.start();
    try {
      const deadline = Date.now() + 10_000;
      while ((await stats("later")).last_analyze === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    } finally {
      await autovacuum.stop();
    }
    expect((await stats("later")).last_analyze).not.toBeNull();
  });
});
