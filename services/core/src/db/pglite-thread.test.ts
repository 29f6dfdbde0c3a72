import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, freshClusterTemplate } from "../../test/database";
import { openDatabase, type Database } from "./database";
import { runPrepared } from "./statements";
import { isDatabaseUnavailable } from "./unavailable";
import { ensurePgliteTemplate } from "./pglite-template";
import { databasePartMs, PGliteThread } from "./pglite-thread";

// The threads of this process that Linux schedules as batch threads (SCHED_BATCH, policy 3 in /proc's stat).
function batchThreads(): string[] {
  return readdirSync("/proc/self/task").filter((thread) => {
    try {
      const stat = readFileSync(`/proc/self/task/${thread}/stat`, "latin1");
      return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[38] === "3";
    } catch {
      return false;
    }
  });
}

const chrtRuns = (() => {
  try {
    execFileSync("chrt", ["--max"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

// The embedded database runs in a worker thread: what comes back must be
// what PGlite gives in the main thread, and the main thread must stay free
// while a statement runs.

describe("PGlite in a worker thread", () => {
  let db: Database;
  let pglite: PGliteThread;

  beforeAll(async () => {
    db = await createTestDatabase("pglite");
    pglite = (db.knex.client as { pglite: PGliteThread }).pglite;
    await db.knex.raw("create table things (id text primary key, body bytea, doc jsonb, at timestamptz, big int8, price numeric)");
  });

  afterAll(async () => {
    await db.close();
  });

  it("answers values as PGlite does: Dates, byte arrays, parsed JSON, numerics as text", async () => {
    const at = new Date("2026-01-02T03:04:05.678Z");
    await db.knex("things").insert({ id: "a", body: Buffer.from([0, 1, 255]), doc: { n: [1, "two"] }, at, big: "9007199254740993", price: "12.30" });
    const [row] = await db.knex("things").where({ id: "a" });
    expect(row.body).toBeInstanceOf(Uint8Array);
    expect([...row.body]).toEqual([0, 1, 255]);
    expect(row.doc).toEqual({ n: [1, "two"] });
    expect(row.at).toBeInstanceOf(Date);
    expect(row.at.toISOString()).toBe(at.toISOString());
    expect(String(row.big)).toBe("9007199254740993");
    expect(row.price).toBe("12.30");
  });

  it("raises Postgres's errors with their SQLSTATE, constraint and detail", async () => {
    await db.knex("things").insert({ id: "dup" });
    const err = (await db.knex("things").insert({ id: "dup" }).catch((e: unknown) => e)) as Record<string, unknown>;
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code: "23505", constraint: "things_pkey", table: "things", detail: "Key (id)=(dup) already exists." });
    expect(isDatabaseUnavailable(err)).toBe(false);
  });

  it("keeps knex's transactions on its one connection: a rollback leaves nothing", async () => {
    await db.knex
      .transaction(async (trx) => {
        await trx("things").insert({ id: "rolled-back" });
        throw new Error("abandon");
      })
      .catch(() => undefined);
    await db.knex.transaction(async (trx) => trx("things").insert({ id: "committed" }));
    expect((await db.knex("things").whereIn("id", ["rolled-back", "committed"])).map((r) => r.id)).toEqual(["committed"]);
  });

  it("sends a transaction's BEGIN with its first statement, which fails and rolls back as one", async () => {
    const sent: string[] = [];
    const post = pglite["worker"].postMessage.bind(pglite["worker"]);
    pglite["worker"].postMessage = (message: { op: string; sql?: string; begin?: boolean }) => {
      sent.push(`${message.begin ? "BEGIN; " : ""}${message.sql ?? message.op}`);
      post(message);
    };
    try {
      const failed = await db.knex
        .transaction(async (trx) => {
          await trx.raw("insert into things (id) values ('first'), ('first')");
        })
        .catch((e: unknown) => e);
      expect(failed).toMatchObject({ code: "23505" });
    } finally {
      pglite["worker"].postMessage = post;
    }
    expect(sent).toEqual(["BEGIN; insert into things (id) values ('first'), ('first')", "ROLLBACK"]);
    expect(await db.knex("things").where({ id: "first" })).toEqual([]);
    // The connection is out of the transaction: a statement that fails alone changes nothing after it.
    await db.knex("things").insert({ id: "after" });
    expect(await db.knex("things").where({ id: "after" }).pluck("id")).toEqual(["after"]);
  });

  it("delivers NOTIFY to each listener until it stops listening", async () => {
    const heard: string[] = [];
    const stop = await pglite.listen("thing_changed", (payload) => heard.push(`first:${payload}`));
    await pglite.listen("thing_changed", (payload) => heard.push(`second:${payload}`));
    await db.knex.raw("select pg_notify('thing_changed', 'x')");
    await stop();
    await db.knex.raw("select pg_notify('thing_changed', 'y')");
    await pglite.unlisten("thing_changed");
    await db.knex.raw("select pg_notify('thing_changed', 'z')");
    // A round trip after the last notice: notices arrive before the answer that follows them.
    await db.knex.raw("select 1");
    expect(heard).toEqual(["first:x", "second:x", "second:y"]);
  });

  it("parses a named statement once, then runs it with each call's values as an unnamed one would answer", async () => {
    const statement = {
      sql: "insert into things (id, doc, at, big) select ?, ?::jsonb, ?, ? returning id, doc, at, big, (select count(*) from things where id like 'named-%') as before",
      bindings: (n: number) => [`named-${n}`, JSON.stringify({ n }), new Date(Date.UTC(2026, 0, n)), `123456789012${n}`],
    };
    const named = (n: number) => runPrepared<Record<string, unknown>>(db.knex, { sql: statement.sql, bindings: statement.bindings(n) });
    const unnamed = (n: number) => db.knex.raw(statement.sql, statement.bindings(n)) as unknown as Promise<{ rows: Record<string, unknown>[] }>;
    const results = [await named(1), await named(2), await unnamed(3), await named(4)];
    expect(results.map((r) => r.rows[0])).toEqual([1, 2, 3, 4].map((n, i) => ({ id: `named-${n}`, doc: { n }, at: new Date(Date.UTC(2026, 0, n)), big: 1234567890120 + n, before: i })));
    const { rows } = (await db.knex.raw("select name, statement from pg_prepared_statements where statement like 'insert into things%'")) as { rows: { name: string }[] };
    expect(rows).toHaveLength(1);
    expect(rows[0]!.name).toMatch(/^onerouter_[0-9a-f]{40}$/);
  });

  it("raises a named statement's errors as an unnamed one's, and runs it again in the next transaction", async () => {
    const statement = { sql: "insert into things (id) values (?) returning id", bindings: ["named-dup"] };
    await runPrepared(db.knex, statement);
    const failed = await db.knex
      .transaction(async (trx) => {
        await runPrepared(trx, statement);
      })
      .catch((err: unknown) => err);
    expect(failed).toMatchObject({ code: "23505", constraint: "things_pkey", query: expect.stringContaining("insert into things") });
    const { rows } = await db.knex.transaction((trx) => runPrepared<{ id: string }>(trx, { ...statement, bindings: ["named-after"] }));
    expect(rows).toEqual([{ id: "named-after" }]);
  });

  it.skipIf(!chrtRuns)("runs its thread as a batch thread, which does not take the core of the thread that wakes it", async () => {
    const before = batchThreads();
    const own = new PGliteThread();
    try {
      await own.query("select 1");
      const added = batchThreads().filter((thread) => !before.includes(thread));
      expect(added).toHaveLength(1);
    } finally {
      await own.close();
    }
    expect(batchThreads()).toEqual(before);
  });

  it("leaves the event loop free while a statement runs", async () => {
    let ticks = 0;
    const ticker = setInterval(() => (ticks += 1), 10);
    try {
      await db.knex.raw("select pg_sleep(0.5)");
    } finally {
      clearInterval(ticker);
    }
    // In the main thread the 500 ms sleep would hold every timer until it ends.
    expect(ticks).toBeGreaterThan(5);
  });

  it("counts the main thread's part of each call: handing the call over, and reading its answer", async () => {
    pglite.takeMainThreadCost();
    const { rows } = await db.knex.raw("select i, repeat('x', 100) as filler from generate_series(1, 20000) i");
    expect(rows).toHaveLength(20000);
    const { handing, reading } = pglite.takeMainThreadCost();
    expect([handing.count, reading.count]).toEqual([1, 1]);
    // Reading 20,000 rows back is measurable time of the main thread's own.
    expect(reading.longestMs).toBeGreaterThan(0);
    expect(reading.totalMs).toBe(reading.longestMs);
    const none = { count: 0, longestMs: 0, totalMs: 0 };
    expect(pglite.takeMainThreadCost()).toEqual({ handing: none, reading: none });
  });

  it("splits each stretch into time on a core and time waiting for one, once asked to", async () => {
    pglite.countTimeOnCpu();
    await db.knex.raw("select i, repeat('x', 100) as filler from generate_series(1, 20000) i");
    const { handing, reading } = pglite.takeMainThreadCost();
    // Decoding 20,000 rows runs on a core for most of its stretch; a wait for one only shortens that part.
    expect(reading.longestOnCpuMs).toBeGreaterThan(0);
    expect(reading.longestOnCpuMs).toBeLessThanOrEqual(reading.longestMs);
    expect(reading.longestStretchOnCpuMs).toBe(reading.longestOnCpuMs);
    expect(reading.totalOnCpuMs).toBe(reading.longestOnCpuMs);
    expect(handing.longestOnCpuMs).toBeGreaterThanOrEqual(0);
    expect(handing.longestOnCpuMs).toBeLessThanOrEqual(handing.longestMs);
    // The database accounts for at least the main thread's time on a core, and never for more than the stretch.
    for (const stretches of [handing, reading]) {
      expect(stretches.longestDatabaseMs).toBeGreaterThanOrEqual(stretches.longestOnCpuMs!);
      expect(stretches.longestDatabaseMs).toBeLessThanOrEqual(stretches.longestMs);
      expect(stretches.longestStretchDatabaseMs).toBeLessThanOrEqual(stretches.longestDatabaseMs!);
    }
    const none = { count: 0, longestMs: 0, totalMs: 0, longestStretchOnCpuMs: 0, longestOnCpuMs: 0, totalOnCpuMs: 0, longestStretchDatabaseMs: 0, longestDatabaseMs: 0 };
    expect(pglite.takeMainThreadCost()).toEqual({ handing: none, reading: none });
  });

  it("counts the database's thread busy from a call's arrival to its answer, and not while idle", async () => {
    const before = pglite.databaseBusyMs();
    const sleeping = pglite.query("select pg_sleep(0.3)");
    await new Promise((resolve) => setTimeout(resolve, 150));
    // Counted while the call runs, not only once it is answered (by then the thread has slept up to 150 ms).
    expect(pglite.databaseBusyMs() - before).toBeGreaterThan(0);
    await sleeping;
    const answered = pglite.databaseBusyMs();
    expect(answered - before).toBeGreaterThan(290);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(pglite.databaseBusyMs() - answered).toBeLessThan(20);
  });

  it("puts a stretch down to the database for no more than its wall time, all of it while the thread is busy", async () => {
    pglite.countTimeOnCpu();
    const sleeping = pglite.query("select pg_sleep(0.2)");
    await new Promise((resolve) => setTimeout(resolve, 50));
    pglite.takeMainThreadCost();
    // Handed over while the thread sleeps; a stretch is counted as soon as the call is sent.
    const next = pglite.query("select 1");
    const { handing } = pglite.takeMainThreadCost();
    await Promise.all([sleeping, next]);
    expect(handing.count).toBe(1);
    expect(handing.longestDatabaseMs).toBe(handing.longestMs);
  });
});

describe("the part of a stretch the database accounts for", () => {
  const stretch = { startMs: 100, wallMs: 8, onCpuMs: 7.5, databaseBusyMs: 0.2 };

  it("is the main thread's time on a core and the database thread's busy time, at most the stretch", () => {
    expect(databasePartMs(stretch, [])).toBeCloseTo(7.7);
    expect(databasePartMs({ ...stretch, onCpuMs: 0.1, databaseBusyMs: 6 }, [])).toBeCloseTo(6.1);
    expect(databasePartMs({ ...stretch, databaseBusyMs: 8 }, [])).toBe(8);
    // Waiting for a core that others had is no part of it.
    expect(databasePartMs({ ...stretch, onCpuMs: 0.1, databaseBusyMs: 0 }, [])).toBeCloseTo(0.1);
  });

  it("leaves out the main thread's garbage collections within the stretch, and only within it", () => {
    expect(databasePartMs(stretch, [{ startMs: 101, endMs: 108 }])).toBeCloseTo(0.7);
    // Half of this pause fell before the stretch began.
    expect(databasePartMs(stretch, [{ startMs: 98, endMs: 104 }])).toBeCloseTo(3.7);
    expect(databasePartMs(stretch, [{ startMs: 90, endMs: 99 }, { startMs: 109, endMs: 120 }])).toBeCloseTo(7.7);
  });
});

// Three PGlite starts in one test: slow on a busy machine.
const threeStartsTimeoutMs = 180_000;

describe("a new database from a template", () => {
  const folder = mkdtempSync(path.join(os.tmpdir(), "onerouter-pglite-template-"));
  const template = path.join(folder, "template.tgz");
  const migration = {
    name: "20260101_000_test_widgets",
    up: async (knex: Database["knex"]) => knex.schema.createTable("widgets", (t) => t.text("id").primary()),
  };

  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it("is made once for the same migrations, and a data folder loaded from it has them applied", async () => {
    const base = await freshClusterTemplate();
    expect(await ensurePgliteTemplate(template, [migration], base)).toBe(true);
    expect(await ensurePgliteTemplate(template, [migration], base)).toBe(false);
    const db = openDatabase({ pgliteDir: path.join(folder, "data"), pgliteTemplate: template });
    try {
      expect(await db.pendingMigrations([migration])).toEqual([]);
      await db.knex("widgets").insert({ id: "w" });
      expect(await db.migrate([migration])).toEqual([]);
    } finally {
      await db.close();
    }
    // The folder now exists: reopened, it keeps its own data and ignores the template.
    const reopened = openDatabase({ pgliteDir: path.join(folder, "data"), pgliteTemplate: template });
    try {
      expect(await reopened.knex("widgets").pluck("id")).toEqual(["w"]);
    } finally {
      await reopened.close();
    }
  }, threeStartsTimeoutMs);

  it("unpacks again a folder whose unpacking stopped before it was marked a database", async () => {
    // PG_VERSION is written last: a folder without it holds a torn unpacking at most.
    const torn = path.join(folder, "torn");
    mkdirSync(path.join(torn, "global"), { recursive: true });
    writeFileSync(path.join(torn, "global", "pg_control"), "torn");
    const db = openDatabase({ pgliteDir: torn, pgliteTemplate: template });
    try {
      expect(db.createdFromTemplate).toBe(true);
      expect(await db.knex("widgets").pluck("id")).toEqual([]);
    } finally {
      await db.close();
    }
  }, threeStartsTimeoutMs);
});
