import type { Migration } from "@onerouter/core";

// The inbound side of the provider kernel: signature nonces, and every
// verified event providers send about payments and messages.
export const routingMigrations: Migration[] = [
  {
    // Named when core created the table; the name stays so databases that
    // applied it do not apply it again.
    name: "20261204_003_core_inbound_webhook_nonces",
    async up(knex) {
      // Single-use values of inbound webhook signatures (Mailgun's token),
      // kept until the signature they came with expires.
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
  {
    // One table for payment webhooks and message delivery callbacks, which
    // payments and messaging each kept under a name of their own; their rows
    // come along, and each room drops its old table in a migration of its own.
    name: "20261204_010_routing_inbound_provider_events",
    async up(knex) {
      await knex.schema.createTable("inbound_provider_events", (t) => {
        t.text("id").primary();
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("environment").notNullable();
        // The provider account's category: the room whose state the event changes.
        t.text("category").notNullable();
        t.text("provider").notNullable();
        t.text("provider_account_id").notNullable();
        t.text("provider_event_id").notNullable();
        // The body exactly as received (a batch is stored with each of its events).
        t.binary("payload").notNullable();
        t.timestamp("received_at", { useTz: true }).notNullable();
        t.unique(["provider_account_id", "provider_event_id"]);
      });
      for (const [table, category] of [
        ["inbound_webhook_events", "payments"],
        ["message_callbacks", "messaging"],
      ] as const) {
        // A database made without that room has no rows of it to carry.
        if (!(await knex.schema.hasTable(table))) continue;
        await knex.raw(
          `insert into inbound_provider_events
             (id, tenant_id, environment, category, provider, provider_account_id, provider_event_id, payload, received_at)
           select id, tenant_id, environment, ?, provider, provider_account_id, provider_event_id, payload, received_at from ??`,
          [category, table],
        );
      }
    },
  },
];
