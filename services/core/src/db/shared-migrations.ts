import type { Migration } from "./database";
import { outboxProgressMigration } from "./outbox-progress-migration";

// Tables shared across rooms: encrypted provider accounts (admin manages them,
// payments and messaging call providers with them), routing profiles,
// and the event outbox.
export const sharedMigrations: Migration[] = [
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
      await knex.schema.createTable("outbox_events", (t) => {
        t.text("id").primary();
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("environment").notNullable();
        t.text("type").notNullable();
        // onerouter.events.v1.Event, binary.
        t.binary("payload").notNullable();
        t.timestamp("created_at", { useTz: true }).notNullable();
        t.timestamp("published_at", { useTz: true });
        t.index(["published_at", "created_at"]);
        t.index(["tenant_id", "environment", "created_at"]);
      });
    },
  },
  outboxProgressMigration,
];
