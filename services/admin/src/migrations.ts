import type { Migration } from "@onerouter/core";

// Admin's tables: tenants, their members and API keys, and the audit log.
// Every room's rows refer to a tenant and are always queried by tenant_id.
// The migration keeps its first name so databases that ran it do not rerun it.
export const adminMigrations: Migration[] = [
  {
    name: "20261121_001_core_tenants_members_keys",
    async up(knex) {
      await knex.schema.createTable("tenants", (t) => {
        t.text("id").primary();
        t.text("name").notNullable();
        t.text("plan_id").notNullable().defaultTo("developer");
        t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
      });
      await knex.schema.createTable("members", (t) => {
        t.text("id").primary();
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("email").notNullable();
        t.text("name").notNullable().defaultTo("");
        t.text("role").notNullable();
        t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
        t.unique(["tenant_id", "email"]);
      });
      await knex.schema.createTable("api_keys", (t) => {
        t.text("id").primary();
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("name").notNullable();
        t.text("environment").notNullable();
        // Only the start of the key is kept readable; the rest is a SHA-256 hash.
        t.text("prefix").notNullable();
        t.text("key_hash").notNullable().unique();
        t.jsonb("scopes").notNullable().defaultTo("[]");
        t.text("created_by").notNullable();
        t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
        t.timestamp("last_used_at", { useTz: true });
        t.timestamp("revoked_at", { useTz: true });
        t.timestamp("expires_at", { useTz: true });
        t.index(["tenant_id", "environment", "created_at"]);
      });
      await knex.schema.createTable("audit_log_entries", (t) => {
        t.text("id").primary();
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("actor").notNullable();
        t.text("action").notNullable();
        t.text("resource_type").notNullable();
        t.text("resource_id").notNullable();
        t.text("environment").notNullable();
        t.jsonb("metadata").notNullable().defaultTo("{}");
        t.text("ip_address").notNullable().defaultTo("");
        t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
        t.index(["tenant_id", "created_at"]);
      });
    },
  },
  {
    // A key's last use is the gatekeeper's to record (api_key_usage, which
    // took over these values in the migration before this one).
    name: "20261204_031_admin_api_keys_last_use_to_gatekeeper",
    async up(knex) {
      await knex.schema.alterTable("api_keys", (t) => {
        t.dropColumn("last_used_at");
      });
    },
  },
];
