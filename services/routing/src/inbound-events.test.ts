import { afterAll, beforeAll, expect, it } from "vitest";
import { coreMigrations, sharedMigrations, type Database } from "@onerouter/core";
import { createTestDatabase, describeEachEngine } from "@onerouter/core/db/testing";
import { maskInInboundEvents, recordInboundEvents } from "./inbound-events";
import { routingMigrations } from "./migrations";

describeEachEngine("inbound provider events", (engine) => {
  let db: Database;
  beforeAll(async () => {
    db = await createTestDatabase(engine);
    await db.migrate([...coreMigrations, ...sharedMigrations, ...routingMigrations]);
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
