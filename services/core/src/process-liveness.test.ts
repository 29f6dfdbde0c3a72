import { afterAll, beforeAll, expect, it } from "vitest";
import type { Database } from "./db/database";
import { createTestDatabase, describeEachEngine } from "../test/database";
import { startProcessLiveness } from "./process-liveness";

describeEachEngine("process liveness", (engine) => {
  let db: Database;

  beforeAll(async () => {
    db = await createTestDatabase(engine);
  });
  afterAll(async () => db?.close());

  it("proves a stopped process gone and never this one", async () => {
    const other = await startProcessLiveness(db);
    const self = await startProcessLiveness(db);
    expect(await self.isGone(self.instanceId)).toBe(false);
    // Postgres: the other still holds its lock. Embedded: one process per folder, so any other is gone.
    expect(await self.isGone(other.instanceId)).toBe(engine === "pglite");
    await other.close();
    expect(await self.isGone(other.instanceId)).toBe(true);
    await self.close();
  });

  if (engine === "postgres") {
    it("cannot prove gone an id it cannot read", async () => {
      const self = await startProcessLiveness(db);
      expect(await self.isGone("crashed-process")).toBe(false);
      await self.close();
    });

    it("takes its lock again when its session is cut", async () => {
      const self = await startProcessLiveness(db);
      const observer = await startProcessLiveness(db);
      const holder = async () => {
        const { rows } = (await db.knex.raw(
          "select pid from pg_locks where locktype = 'advisory' and granted and ((classid::bigint << 32) | objid::bigint) = ?::bigint",
          [self.instanceId],
        )) as { rows: { pid: number }[] };
        return rows[0]?.pid;
      };
      const first = await holder();
      expect(first).toBeDefined();
      await db.knex.raw("select pg_terminate_backend(?)", [first!]);
      await expect.poll(holder, { timeout: 10_000, interval: 100 }).not.toBe(first);
      await expect.poll(holder, { timeout: 10_000, interval: 100 }).toBeDefined();
      expect(await observer.isGone(self.instanceId)).toBe(false);
      await self.close();
      await observer.close();
    });
  }
});
