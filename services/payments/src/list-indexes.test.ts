import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminMigrations } from "@onerouter/admin";
import { idempotencyMigrations, outboxMigrations, type Database } from "@onerouter/core";
import { createTestDatabase, indexConditionsOf, postgresAvailable } from "@onerouter/core/testing";
import { routingMigrations } from "@onerouter/routing";
import { paymentsMigrations } from "./migrations";
import type { PaymentWebhookEvent } from "./connectors/connector";
import { PaymentStore, type PaymentFilter } from "./store";

describe.skipIf(!postgresAvailable())("payments' lookups on Postgres", () => {
  let db: Database;
  let store: PaymentStore;
  beforeAll(async () => {
    db = await createTestDatabase("postgres");
    await db.migrate([...adminMigrations, ...outboxMigrations, ...idempotencyMigrations, ...routingMigrations, ...paymentsMigrations]);
    store = new PaymentStore(db.knex);
  }, 120_000);
  afterAll(async () => db?.close());

  // Every ListPayments filter narrows an index range, so a filter that
  // matches few payments never reads all of the tenant's.
  describe("ListPayments filters", () => {
    const scope = { tenantId: "ten_lists", environment: "test" } as const;
    const createTime = { startTime: { seconds: 1n, nanos: 0 }, endTime: { seconds: 2n, nanos: 0 } } as PaymentFilter["createTime"];
    const filters: [string, PaymentFilter, string[]][] = [
      ["status", { status: "failed" }, ["status"]],
      ["provider", { provider: "stripe" }, ["provider"]],
      ["create time", { createTime }, ["created_at"]],
      // Every column of a combined filter is in one index's condition: no row is read to be dropped.
      ["status, provider and create time", { status: "failed", provider: "stripe", createTime }, ["status", "provider", "created_at"]],
    ];
    for (const [name, filter, columns] of filters) {
      it(`uses an index for the ${name} filter`, async () => {
        const plan = await indexConditionsOf(db.knex, () => store.listPayments(scope, filter, { pageSize: 10, pageToken: "" }));
        expect(plan.seqScans).toEqual([]);
        expect(plan.conditions.some((c) => c.includes("tenant_id") && columns.every((column) => c.includes(column)))).toBe(true);
      });
    }
  });

  // A provider's webhook finds the payment or refund it names by an index,
  // whichever of the provider's ids it carries, so it never reads every
  // attempt of the account or every refund.
  describe("provider webhooks", () => {
    const accountId = "pac_webhooks";

    const unusedProviderError = () => {
      throw new Error("the event has no failure");
    };

    for (const generic of [false, true]) {
      it(`checks a payment event that names only the provider's payment id by an index${generic ? ", in the plan kept for any event" : ""}`, async () => {
        const event: PaymentWebhookEvent = { providerEventId: "evt_1", kind: "payment", status: "succeeded", providerPaymentId: "pi_1" };
        const condition = store.webhookChangesNothing(accountId, event)!;
        const plan = await indexConditionsOf(db.knex, () => db.knex.raw(`select ${condition.sql} as nothing`, condition.bindings as never), { generic });
        expect(plan.seqScans).toEqual([]);
        expect(plan.conditions.some((c) => c.includes("provider_account_id") && c.includes("provider_payment_id"))).toBe(true);
      });
    }

    // The check runs prepared, so Postgres soon keeps one plan for any event.
    // On a fresh database its statistics say the attempts are few, and an
    // index that leads with the account looks as cheap as the primary key:
    // that plan would read every attempt of the account for each event.
    it("checks a payment event that names our attempt id by the attempt's primary key, in the plan kept for any event", async () => {
      const event: PaymentWebhookEvent = { providerEventId: "evt_4", kind: "payment", status: "succeeded", attemptId: "pat_1", providerPaymentId: "pi_4" };
      const condition = store.webhookChangesNothing(accountId, event)!;
      const plan = await indexConditionsOf(db.knex, () => db.knex.raw(`select ${condition.sql} as nothing`, condition.bindings as never), { generic: true });
      expect(plan.seqScans).toEqual([]);
      const onAttempts = plan.conditions.filter((c) => !c.includes("payment_id"));
      expect(onAttempts).toEqual(["(id = $1)"]);
    });

    it("applies a payment event that names only the provider's payment id by an index", async () => {
      const event: PaymentWebhookEvent = { providerEventId: "evt_2", kind: "payment", status: "succeeded", providerPaymentId: "pi_2" };
      const plan = await indexConditionsOf(db.knex, () => db.knex.transaction((trx) => store.applyWebhook(trx, accountId, event, unusedProviderError)));
      expect(plan.seqScans).toEqual([]);
      expect(plan.conditions.some((c) => c.includes("provider_account_id") && c.includes("provider_payment_id"))).toBe(true);
    });

    it("applies a refund event by an index on the provider's refund id", async () => {
      const event: PaymentWebhookEvent = { providerEventId: "evt_3", kind: "refund", status: "succeeded", providerRefundId: "re_1" };
      const plan = await indexConditionsOf(db.knex, () => db.knex.transaction((trx) => store.applyWebhook(trx, accountId, event, unusedProviderError)));
      expect(plan.seqScans).toEqual([]);
      expect(plan.conditions.some((c) => c.includes("provider_account_id") && c.includes("provider_refund_id"))).toBe(true);
    });
  });
});
