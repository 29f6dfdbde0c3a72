import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminMigrations } from "@onerouter/admin";
import type { Database } from "@onerouter/core";
import { createTestDatabase, describeEachEngine } from "@onerouter/core/testing";
import { maskInInboundEvents, recordInboundEvents } from "./inbound-events";
import { routingMigrations } from "./migrations";

describeEachEngine("inbound provider events", (engine) => {
  let db: Database;
  beforeAll(async () => {
    db = await createTestDatabase(engine);
    await db.migrate([...adminMigrations, ...routingMigrations]);
    await db.knex("tenants").insert({ id: "ten_a", name: "Shop" });
  }, 120_000);
  afterAll(async () => db?.close());

  const account = (id: string, category: "payments" | "messaging") =>
    ({ id, tenantId: "ten_a", environment: "test", provider: "acme", category }) as const;

  async function record(accountId: string, eventIds: string[], body = "{}", fail?: string) {
    const applied: string[] = [];
    const events = eventIds.map((providerEventId) => ({ providerEventId }));
    const outcome = await recordInboundEvents(db.knex, account(accountId, "messaging"), events, Buffer.from(body), async (_trx, event) => {
      if (event.providerEventId === fail) throw new Error("the room could not apply it");
      applied.push(event.providerEventId);
    });
    return { outcome, applied };
  }

  it("applies each event of a batch once, storing the body with each", async () => {
    expect(await record("pa_batch", ["e1", "e2"], "batch")).toEqual({ outcome: "applied", applied: ["e1", "e2"] });
    expect(await record("pa_batch", ["e2", "e3"], "batch")).toEqual({ outcome: "applied", applied: ["e3"] });
    expect(await record("pa_batch", ["e1", "e3"], "batch")).toEqual({ outcome: "duplicate", applied: [] });
    const rows = (await db.knex("inbound_provider_events").where({ provider_account_id: "pa_batch" })) as { category: string; payload: Uint8Array }[];
    expect(rows).toHaveLength(3);
    expect(rows.every((r) => r.category === "messaging" && Buffer.from(r.payload).toString() === "batch")).toBe(true);
  });

  it("takes a body with no event in it as news", async () => {
    expect(await record("pa_empty", [])).toEqual({ outcome: "applied", applied: [] });
  });

  it("keeps an event unstored when the room fails to apply it, so the provider's retry applies it", async () => {
    await expect(record("pa_retry", ["e1", "e2"], "{}", "e2")).rejects.toThrow("could not apply");
    expect(await db.knex("inbound_provider_events").where({ provider_account_id: "pa_retry" })).toHaveLength(0);
    expect(await record("pa_retry", ["e1", "e2"])).toEqual({ outcome: "applied", applied: ["e1", "e2"] });
  });

  // A room's table of what providers report, standing in for payments: an
  // event has nothing to apply when the row already has the status it reports.
  describe("an event with nothing to apply", () => {
    beforeAll(async () => {
      await db.knex.schema.createTable("reported_states", (t) => {
        t.text("id").primary();
        t.text("status").notNullable();
      });
      await db.knex("reported_states").insert([
        { id: "obj_same", status: "done" },
        { id: "obj_news", status: "open" },
      ]);
    });

    let statements = 0;
    const countStatements = () => (statements += 1);
    beforeAll(() => void db.knex.on("query", countStatements));
    afterAll(() => void db.knex.off("query", countStatements));

    async function report(eventId: string, objectId: string, status: string) {
      const applied: string[] = [];
      const before = statements;
      const outcome = await recordInboundEvents(
        db.knex,
        account("pa_states", "payments"),
        [{ providerEventId: eventId, objectId, status }],
        Buffer.from(status),
        async (trx, event) => {
          applied.push(event.providerEventId);
          await trx("reported_states").where({ id: event.objectId }).update({ status: event.status });
        },
        (event) => ({ sql: "not exists (select 1 from reported_states where id = ? and status <> ?)", bindings: [event.objectId, event.status] }),
      );
      return { outcome, applied, statements: statements - before };
    }

    it("stores it in one statement, and tells a duplicate in one", async () => {
      expect(await report("e_same", "obj_same", "done")).toEqual({ outcome: "applied", applied: [], statements: 1 });
      expect(await report("e_same", "obj_same", "done")).toEqual({ outcome: "duplicate", applied: [], statements: 1 });
      expect(await db.knex("inbound_provider_events").where({ provider_account_id: "pa_states", provider_event_id: "e_same" })).toHaveLength(1);
    });

    it("applies news in a transaction, once however often it comes at once", async () => {
      const outcomes = await Promise.all([report("e_news", "obj_news", "done"), report("e_news", "obj_news", "done")]);
      expect(outcomes.map((o) => o.outcome).sort()).toEqual(["applied", "duplicate"]);
      expect(outcomes.flatMap((o) => o.applied)).toEqual(["e_news"]);
      expect(await db.knex("reported_states").where({ id: "obj_news" }).first()).toEqual({ id: "obj_news", status: "done" });
      // Once applied, the state is recorded: a later copy is a duplicate in one statement.
      expect(await report("e_news", "obj_news", "done")).toEqual({ outcome: "duplicate", applied: [], statements: 1 });
    });
  });

  it("erases contact data only from the stored bodies of the category asked for", async () => {
    const body = Buffer.from('{"email":"ann@example.com"}');
    for (const [id, category] of [
      ["pa_pay", "payments"],
      ["pa_msg", "messaging"],
    ] as const) {
      await recordInboundEvents(db.knex, account(id, category), [{ providerEventId: "e" }], body, async () => {});
    }
    expect(await db.knex.transaction((trx) => maskInInboundEvents(trx, "ten_a", "payments", ["ann@example.com"], []))).toBe(1);
    const payload = async (id: string) =>
      Buffer.from(((await db.knex("inbound_provider_events").where({ provider_account_id: id }).first()) as { payload: Uint8Array }).payload).toString();
    expect(await payload("pa_pay")).toBe(`{"email":"${"*".repeat("ann@example.com".length)}"}`);
    expect(await payload("pa_msg")).toBe(body.toString());
  });
});
