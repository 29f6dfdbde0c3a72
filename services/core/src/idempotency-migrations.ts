import type { Migration } from "./db/database";
import { dropTenantForeignKeys } from "./db/tenant-references";

// The idempotency keys' table, apart from the code that claims and replays
// them: applying it loads neither Connect nor the metrics.
export const idempotencyMigrations: Migration[] = [
  {
    name: "20261121_003_core_idempotency_keys",
    async up(knex) {
      await knex.schema.createTable("idempotency_keys", (t) => {
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("environment").notNullable();
        // e.g. onerouter.payments.v1.PaymentService/CreatePayment
        t.text("method").notNullable();
        t.text("key").notNullable();
        // SHA-256 of the request in canonical form.
        t.text("fingerprint").notNullable();
        // in_progress, then completed.
        t.text("status").notNullable();
        t.text("lease_owner");
        t.timestamp("lease_expires_at", { useTz: true });
        // completed: the response message (binary), or the error as JSON.
        t.binary("response");
        t.jsonb("error");
        t.timestamp("created_at", { useTz: true }).notNullable();
        t.timestamp("expires_at", { useTz: true }).notNullable();
        t.primary(["tenant_id", "environment", "method", "key"]);
        t.index(["expires_at"]);
      });
    },
  },
  {
    name: "20261204_001_core_idempotency_bound_resource",
    async up(knex) {
      await knex.schema.alterTable("idempotency_keys", (t) => {
        // The object the run created or acts on, bound when it was created.
        t.text("resource_id");
        // The process holding the claim (ProcessLiveness.instanceId).
        t.text("owner_instance");
      });
    },
  },
  {
    name: "20261211_101_core_idempotency_keys_without_tenant_key",
    async up(knex) {
      await dropTenantForeignKeys(knex, ["idempotency_keys"]);
    },
  },
];
