import { afterAll, beforeAll, expect, it } from "vitest";
import { adminMigrations, createTenant } from "@onerouter/admin";
import type { Database } from "@onerouter/core";
import { createTestDatabase, describeEachEngine } from "@onerouter/core/testing";
import { BatchedCounters, counted } from "./batched-counters";
import { gatekeeperMigrations } from "./migrations";

describeEachEngine("BatchedCounters", (engine) => {
  let db: Database;
  let tenantId: string;
  beforeAll(async () => {
    db = await createTestDatabase(engine);
    await db.migrate([...adminMigrations, ...gatekeeperMigrations]);
    tenantId = (await createTenant(db.knex, { name: "Counted", planId: "free" })).id;
  });
  afterAll(async () => db?.close());

  const key = (metric: string) => ({ tenant_id: tenantId, period_start: new Date(Date.UTC(2026, 11, 1)), metric });
  const stored = async (metric: string) =>
    Number(((await db.knex("usage_counters").where(key(metric)).first("count")) as { count: string } | undefined)?.count ?? 0);

  it("adds up what two processes count, each learning the other's on its flush", async () => {
    const here = new BatchedCounters(db.knex, "usage_counters", ["tenant_id", "period_start", "metric"]);
    const there = new BatchedCounters(db.knex, "usage_counters", ["tenant_id", "period_start", "metric"]);
    const mine = await here.counter(key("api_requests"));
    const theirs = await there.counter(key("api_requests"));
    for (let i = 0; i < 7; i++) here.add(mine);
    for (let i = 0; i < 5; i++) there.add(theirs);
    expect([counted(mine), counted(theirs), await stored("api_requests")]).toEqual([7, 5, 0]);
    await here.flush();
    await there.flush();
    expect([counted(mine), counted(theirs), await stored("api_requests")]).toEqual([7, 12, 12]);
    // Nothing to write: a watched counter is re-read, an unwatched one is not.
    await here.flush();
    expect(counted(mine)).toBe(7);
    mine.watched = true;
    await here.flush();
    expect(counted(mine)).toBe(12);
  });

  it("drops only the increments of a counter whose tenant is gone, and keeps the others", async () => {
    const counters = new BatchedCounters(db.knex, "usage_counters", ["tenant_id", "period_start", "metric"]);
    const counter = await counters.counter(key("payments"));
    const orphan = await counters.counter({ ...key("payments"), tenant_id: "ten_gone" });
    counters.add(counter, 3);
    counters.add(orphan, 2);
    await counters.flush();
    expect([counter.pending, counted(counter), await stored("payments")]).toEqual([0, 3, 3]);
    expect(await db.knex("usage_counters").where({ tenant_id: "ten_gone" })).toEqual([]);
  });

  it("keeps increments whose write failed for the next flush", async () => {
    const counters = new BatchedCounters(db.knex, "usage_counters", ["tenant_id", "period_start", "metric"]);
    const counter = await counters.counter(key("messages"));
    counters.add(counter, 4);
    // A write the database refuses, for a moment.
    await db.knex.raw("alter table usage_counters add constraint no_messages check (metric <> 'messages') not valid");
    try {
      await expect(counters.flush()).rejects.toThrow();
      expect([counter.pending, counted(counter), await stored("messages")]).toEqual([4, 4, 0]);
    } finally {
      await db.knex.raw("alter table usage_counters drop constraint no_messages");
    }
    await counters.flush();
    expect([counter.pending, counted(counter), await stored("messages")]).toEqual([0, 4, 4]);
  });
});
