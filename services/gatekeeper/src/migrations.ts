import type { Migration } from "@onerouter/core";

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
];
