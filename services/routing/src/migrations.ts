import type { Migration } from "@onerouter/core";

// The provider kernel's tables: encrypted provider accounts (admin manages
// them, payments and messaging call providers with them) with each tenant's
// data key, routing profiles, and the nonces of inbound webhook signatures.
// The migrations keep their first names so databases that ran them do not
// rerun them; the first once created the event outbox too, which core's
// migration now creates.
export const routingMigrations: Migration[] = [
  {
    name: "20261121_002_core_provider_accounts_routing_outbox",
    async up(knex) {
      await knex.schema.createTable("tenant_data_keys", (t) => {
        t.text("tenant_id").primary().references("tenants.id").onDelete("CASCADE");
        t.text("wrapped_key").notNullable();
        t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
      });
      await knex.schema.createTable("provider_accounts", (t) => {
        t.text("id").primary();
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("environment").notNullable();
        t.text("provider").notNullable();
        t.text("category").notNullable();
        t.text("display_name").notNullable();
        t.text("credentials_sealed").notNullable();
        t.jsonb("credential_hints").notNullable().defaultTo("{}");
        t.jsonb("settings").notNullable().defaultTo("{}");
        t.boolean("enabled").notNullable().defaultTo(true);
        t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
        t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
        t.index(["tenant_id", "environment", "category"]);
      });
      await knex.schema.createTable("routing_profiles", (t) => {
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("environment").notNullable();
        t.text("category").notNullable();
        // The RoutingProfile message as proto3 JSON.
        t.jsonb("profile").notNullable();
        t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
        t.primary(["tenant_id", "environment", "category"]);
      });
    },
  },
  // Single-use values of inbound webhook signatures (Mailgun's token), kept
  // until the signature they came with expires.
  {
    name: "20261204_003_core_inbound_webhook_nonces",
    async up(knex) {
      await knex.schema.createTable("inbound_webhook_nonces", (t) => {
        t.text("provider_account_id").notNullable().references("provider_accounts.id").onDelete("CASCADE");
        t.text("nonce").notNullable();
        // SHA-256 of the body the nonce first came with.
        t.text("body_sha256").notNullable();
        t.timestamp("expires_at", { useTz: true }).notNullable();
        t.primary(["provider_account_id", "nonce"]);
        t.index(["expires_at"]);
      });
    },
  },
];
