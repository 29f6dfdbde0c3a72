import type { Migration } from "@onerouter/core/migrations";
import { apiKeyChangeNoticeMigration, apiKeyChangeNoticeWhenWantedMigration } from "./api-key-notices";

// When each API key was last used: the gatekeeper sees every use, so it
// keeps this itself instead of writing admin's api_keys table; admin reads it
// to show a key's last use.
export const gatekeeperMigrations: Migration[] = [
  {
    name: "20261204_030_gatekeeper_api_key_usage",
    async up(knex) {
      await knex.schema.createTable("api_key_usage", (t) => {
        t.text("api_key_id").primary().references("api_keys.id").onDelete("CASCADE");
        t.timestamp("last_used_at", { useTz: true }).notNullable();
      });
      await knex.raw(
        "insert into api_key_usage (api_key_id, last_used_at) select id, last_used_at from api_keys where last_used_at is not null",
      );
    },
  },
  {
    // What the gatekeeper counts: calls per tenant, billing period and
    // metric (admin reads them for GetUsage), calls per API key and UTC day,
    // and the usage notices already given, one row each so that only one
    // process gives a notice.
    name: "20261205_060_gatekeeper_usage_counters",
    async up(knex) {
      await knex.schema.createTable("usage_counters", (t) => {
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.timestamp("period_start", { useTz: true }).notNullable();
        // api_requests, payments or messages.
        t.text("metric").notNullable();
        t.bigInteger("count").notNullable();
        t.primary(["tenant_id", "period_start", "metric"]);
      });
      await knex.schema.createTable("api_key_daily_requests", (t) => {
        t.text("api_key_id").notNullable().references("api_keys.id").onDelete("CASCADE");
        t.timestamp("day_start", { useTz: true }).notNullable();
        t.bigInteger("count").notNullable();
        t.primary(["api_key_id", "day_start"]);
      });
      await knex.schema.createTable("usage_notices", (t) => {
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.timestamp("period_start", { useTz: true }).notNullable();
        t.text("metric").notNullable();
        t.integer("threshold_percent").notNullable();
        t.bigInteger("used").notNullable();
        t.bigInteger("limit").notNullable();
        t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
        t.primary(["tenant_id", "period_start", "metric", "threshold_percent"]);
      });
    },
  },
  {
    // Token buckets every gatekeeper replica in the mesh spends from (see
    // shared-rate-store.ts): one row per caller and limit.
    name: "20261206_110_gatekeeper_rate_buckets",
    async up(knex) {
      await knex.schema.createTable("gatekeeper_rate_buckets", (t) => {
        t.text("key").primary();
        t.double("tokens").notNullable();
        t.timestamp("updated_at", { useTz: true }).notNullable();
      });
    },
  },
  apiKeyChangeNoticeMigration,
  apiKeyChangeNoticeWhenWantedMigration,
];
