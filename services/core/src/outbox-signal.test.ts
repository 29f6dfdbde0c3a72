import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { EventType } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { adminMigrations } from "@onerouter/admin";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestDatabase, describeEachEngine } from "../test/database";
import { openDatabase, type Database } from "./db/database";
import { newId } from "./ids";
import { createLogger } from "./logging";
import { appendEvent, outboxMigrations } from "./outbox";
import { OutboxReader } from "./outbox-reader";

// Outbox readers are woken by the commit, not their poll: the poll here is
// far longer than any wait the tests allow.

const logger = createLogger("silent");
const neverPollMs = 600_000;
const pushedWithinMs = 10_000;

describeEachEngine("outbox readers woken by the commit", (engine) => {
  let db: Database;
  let tenant: string;
  let reader: OutboxReader;
  const handed: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase(engine);
    await db.migrate([...adminMigrations, ...outboxMigrations]);
    tenant = newId("ten");
    await db.knex("tenants").insert({ id: tenant, name: tenant });
    // The first look, at start, finds the outbox empty; from here on only a wake-up reads it.
    const firstLook = new Promise<void>((resolve) => {
      const answered = (_: unknown, query: { sql: string }) => {
        if (!query.sql.includes('from "outbox_events"')) return;
        db.knex.off("query-response", answered);
        resolve();
      };
      db.knex.on("query-response", answered);
    });
    reader = new OutboxReader(db.knex, logger, { pollIntervalMs: neverPollMs });
    reader.start<{ ids: string[] }>({
      statement: () => ({ parts: [], select: { sql: `select (select coalesce(json_agg(id), '[]'::json) from "claimed") as ids`, bindings: [] } }),
      handled: ({ ids }) => handed.push(...ids),
    });
    await firstLook;
  });
  afterAll(async () => {
    await reader?.stop();
    await db?.close();
  });

  const event = () => ({
    type: EventType.PAYMENT_SUCCEEDED,
    tenantId: tenant,
    environment: Environment.TEST,
    data: { case: "test" as const, value: { message: "wake-up test" } },
  });

  it("hands over an event once its transaction commits, and nothing of one rolled back", async () => {
    const rolledBack = await db.knex
      .transaction(async (trx) => {
        const appended = await appendEvent(trx, event());
        throw Object.assign(new Error("rolled back"), { appended });
      })
      .catch((err: { appended: { id: string } }) => err.appended.id);
    const { id } = await db.knex.transaction((trx) => appendEvent(trx, event()));
    await expect.poll(() => handed, { timeout: pushedWithinMs }).toContain(id);
    expect(handed).not.toContain(rolledBack);
  });

  it("is woken after the outermost transaction, not a savepoint inside it", async () => {
    const id = await db.knex.transaction(async (trx) => {
      const inner = await trx.transaction((savepoint) => appendEvent(savepoint, event()));
      // Released, not committed: the reader must not have taken it yet (it cannot see it).
      await new Promise((resolve) => setTimeout(resolve, 50));
      return inner.id;
    });
    await expect.poll(() => handed, { timeout: pushedWithinMs }).toContain(id);
  });

  it("looks once per commit, not once per signal of it", async () => {
    let looks = 0;
    const counted = (_: unknown, query: { sql: string }) => {
      if (query.sql.includes('from "outbox_events"')) looks += 1;
    };
    db.knex.on("query-response", counted);
    try {
      const { id } = await db.knex.transaction((trx) => appendEvent(trx, event()));
      await expect.poll(() => handed, { timeout: pushedWithinMs }).toContain(id);
      // Time for a second signal of the same commit (the NOTIFY) to arrive and be acted on.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(looks).toBe(1);
    } finally {
      db.knex.off("query-response", counted);
    }
  });

  it.skipIf(engine !== "postgres")("is woken through NOTIFY by another process's commit", async () => {
    // A pool of its own and a plain insert: no in-process signal, only the trigger's NOTIFY.
    const other = openDatabase({ databaseUrl: (db.knex.client.config as { connection: string }).connection, poolMax: 1 });
    try {
      const id = newId("evt");
      // The reader hands rows over as stored; it does not decode them.
      await other.knex("outbox_events").insert({ id, tenant_id: tenant, environment: "test", type: "payment.succeeded", payload: Buffer.from("event"), created_at: new Date() });
      await expect.poll(() => handed, { timeout: pushedWithinMs }).toContain(id);
    } finally {
      await other.close();
    }
  });
});
