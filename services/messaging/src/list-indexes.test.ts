import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminMigrations } from "@onerouter/admin";
import { idempotencyMigrations, outboxMigrations, type Database } from "@onerouter/core";
import { createTestDatabase, indexConditionsOf, postgresAvailable } from "@onerouter/core/testing";
import { routingMigrations } from "@onerouter/routing";
import type { MessageStatusEvent } from "./connectors/connector";
import { messagingMigrations } from "./migrations";
import type { MessageFilter } from "./rows";
import { MessageStore } from "./store";

// Every ListMessages filter narrows an index range, so a filter that
// matches few messages never reads all of the tenant's.
describe.skipIf(!postgresAvailable())("ListMessages filters on Postgres", () => {
  let db: Database;
  let store: MessageStore;
  const scope = { tenantId: "ten_lists", environment: "test" } as const;
  beforeAll(async () => {
    db = await createTestDatabase("postgres");
    await db.migrate([...adminMigrations, ...outboxMigrations, ...idempotencyMigrations, ...routingMigrations, ...messagingMigrations]);
    store = new MessageStore(db.knex);
  }, 120_000);
  afterAll(async () => db?.close());

  const filters: [string, MessageFilter, string][] = [
    ["status", { status: "failed" }, "status"],
    ["provider", { provider: "twilio" }, "provider"],
    ["channel", { channel: "sms" }, "channel"],
    ["create time", { createTime: { startTime: { seconds: 1n, nanos: 0 } } as MessageFilter["createTime"] }, "created_at"],
  ];
  for (const [name, filter, column] of filters) {
    it(`uses an index for the ${name} filter`, async () => {
      const plan = await indexConditionsOf(db.knex, () => store.listMessages(scope, filter, { pageSize: 10, pageToken: "" }));
      expect(plan.seqScans).toEqual([]);
      expect(plan.conditions.some((c) => c.includes(column) && c.includes("tenant_id"))).toBe(true);
    });
  }

  // The check runs prepared, so Postgres soon keeps one plan for any
  // callback, made while the attempts were few on a fresh database: it must
  // find the attempt by an index on what the callback names, never read
  // every attempt of the account.
  describe("a provider's status callback, in the plan kept for any callback", () => {
    const accountId = "pac_callbacks";
    const cases: [string, MessageStatusEvent, string[]][] = [
      ["our attempt id", { providerEventId: "evt_1", providerMessageId: "SM1", attemptId: "mat_1", status: "delivered" }, ["(id = $1)"]],
      ["only the provider's message id", { providerEventId: "evt_2", providerMessageId: "SM2", status: "delivered" }, ["provider_account_id", "provider_message_id"]],
    ];
    for (const [name, event, parts] of cases) {
      it(`checks a callback that names ${name} by an index on it`, async () => {
        const condition = store.callbackChangesNothing(accountId, event);
        const plan = await indexConditionsOf(db.knex, () => db.knex.raw(`select ${condition.sql} as nothing`, condition.bindings as never), { generic: true });
        expect(plan.seqScans).toEqual([]);
        expect(plan.conditions).toHaveLength(1);
        expect(parts.every((part) => plan.conditions[0]!.includes(part))).toBe(true);
      });
    }
  });
});
