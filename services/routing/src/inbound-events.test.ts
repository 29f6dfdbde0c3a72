import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminMigrations } from "@onerouter/admin";
import type { Database } from "@onerouter/core";
import { createTestDatabase, describeEachEngine } from "@onerouter/core/testing";
import { InboundEventRecorder, maskInInboundEvents } from "./inbound-events";
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
    const outcome = await new InboundEventRecorder(db.knex).record(account(accountId, "messaging"), events, Buffer.from(body), async (_trx, event) => {
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

    let recorder: InboundEventRecorder;
    beforeAll(() => void (recorder = new InboundEventRecorder(db.knex)));
    const stateReported = (event: { objectId: string; status: string }) => ({
      sql: "not exists (select 1 from reported_states where id = ? and status <> ?)",
      bindings: [event.objectId, event.status],
    });

    async function report(eventId: string, objectId: string, status: string, nothingToApply = stateReported) {
      const applied: string[] = [];
      const before = statements;
      const outcome = await recorder.record(
        account("pa_states", "payments"),
        [{ providerEventId: eventId, objectId, status }],
        Buffer.from(status),
        async (trx, event) => {
          applied.push(event.providerEventId);
          await trx("reported_states").where({ id: event.objectId }).update({ status: event.status });
        },
        nothingToApply,
      );
      return { outcome, applied, statements: statements - before };
    }

    const stored = async (eventIds: string[]) =>
      ((await db.knex("inbound_provider_events").where({ provider_account_id: "pa_states" }).whereIn("provider_event_id", eventIds)) as {
        provider_event_id: string;
        payload: Uint8Array;
      }[])
        .map((r) => `${r.provider_event_id}:${Buffer.from(r.payload).toString()}`)
        .sort();

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

    // While one statement of a kind runs, the events of that kind that
    // arrive queue for the next, up to 16 to a statement.
    it("checks and stores events that arrive together in one statement, each told apart", async () => {
      const before = statements;
      const ids = Array.from({ length: 20 }, (_, i) => `e_together_${i}`);
      const outcomes = await Promise.all([...ids.map((id) => report(id, "obj_same", "done")), report("e_same", "obj_same", "done")]);
      expect(statements - before).toBe(3);
      expect(outcomes.map((o) => o.outcome)).toEqual([...ids.map(() => "applied"), "duplicate"]);
      expect(outcomes.flatMap((o) => o.applied)).toEqual([]);
      expect(await stored(ids)).toEqual(ids.map((id) => `${id}:done`).sort());
    });

    it("stores an event sent twice in one statement once, and leaves news among them to a transaction", async () => {
      await db.knex("reported_states").insert({ id: "obj_open", status: "open" });
      const outcomes = await Promise.all([
        report("e_first", "obj_same", "done"),
        report("e_twice", "obj_same", "done"),
        report("e_twice", "obj_same", "done"),
        report("e_open", "obj_open", "done"),
      ]);
      expect(outcomes[0]!.outcome).toBe("applied");
      // Which of the two is stored is Postgres's choice; one is, once.
      expect([outcomes[1]!.outcome, outcomes[2]!.outcome].sort()).toEqual(["applied", "duplicate"]);
      expect(outcomes[3]).toMatchObject({ outcome: "applied", applied: ["e_open"] });
      expect(await stored(["e_twice", "e_open"])).toEqual(["e_open:done", "e_twice:done"]);
      expect(await db.knex("reported_states").where({ id: "obj_open" }).first()).toEqual({ id: "obj_open", status: "done" });
    });

    it("fails only the event a shared statement failed on", async () => {
      // A check that raises for a status of "0" (division by zero).
      const raisesOnZero = (event: { status: string }) => ({ sql: "1 / ?::integer > 0", bindings: [event.status] });
      const outcomes = await Promise.allSettled(
        ["1", "1", "0", "1"].map((status, i) => report(`e_divides_${i}`, "obj_same", status, raisesOnZero)),
      );
      expect(outcomes.map((o) => (o.status === "fulfilled" ? o.value.outcome : String(o.reason)))).toEqual([
        "applied",
        "applied",
        expect.stringContaining("division by zero"),
        "applied",
      ]);
      expect(await stored(["e_divides_0", "e_divides_1", "e_divides_2", "e_divides_3"])).toEqual(["e_divides_0:1", "e_divides_1:1", "e_divides_3:1"]);
    });
  });

  it("erases contact data only from the stored bodies of the category asked for", async () => {
    const body = Buffer.from('{"email":"ann@example.com"}');
    for (const [id, category] of [
      ["pa_pay", "payments"],
      ["pa_msg", "messaging"],
    ] as const) {
      await new InboundEventRecorder(db.knex).record(account(id, category), [{ providerEventId: "e" }], body, async () => {});
    }
    expect(await db.knex.transaction((trx) => maskInInboundEvents(trx, "ten_a", "payments", ["ann@example.com"], []))).toBe(1);
    const payload = async (id: string) =>
      Buffer.from(((await db.knex("inbound_provider_events").where({ provider_account_id: id }).first()) as { payload: Uint8Array }).payload).toString();
    expect(await payload("pa_pay")).toBe(`{"email":"${"*".repeat("ann@example.com".length)}"}`);
    expect(await payload("pa_msg")).toBe(body.toString());
  });
});
