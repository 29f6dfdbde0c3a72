import { dropTenantForeignKeys, type Migration } from "@onerouter/core/migrations";

// Where committed changes of provider accounts, data keys and routing
// profiles are announced, with the tenant's id (ProviderAccountStore and
// RoutingProfileStore drop what they cached of the tenant).
export const routingChangeChannel = "onerouter_routing_changed";

// The provider kernel's tables: encrypted provider accounts (admin manages
// them, payments and messaging call providers with them) with each tenant's
// data key, routing profiles, the nonces of inbound webhook signatures, and
// every verified event providers send about payments and messages.
// Migrations keep their first names so databases that ran them do not rerun
// them; the first once created the event outbox too, which core's migration
// now creates.
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
  {
    name: "20261205_080_routing_provider_health_and_prices",
    async up(knex) {
      // The last background probe of each provider account.
      await knex.schema.createTable("provider_account_health", (t) => {
        t.text("provider_account_id").primary().references("provider_accounts.id").onDelete("CASCADE");
        // healthy, degraded or down.
        t.text("status").notNullable();
        t.integer("response_time_ms").notNullable();
        t.timestamp("checked_at", { useTz: true }).notNullable();
        // ProviderError as proto3 JSON when down.
        t.jsonb("error");
      });
      // Prices providers publish through their APIs: a row per change per destination.
      await knex.schema.createTable("provider_prices", (t) => {
        t.text("id").primary();
        t.text("provider_account_id").notNullable().references("provider_accounts.id").onDelete("CASCADE");
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("environment").notNullable();
        t.text("provider").notNullable();
        t.text("country").notNullable();
        t.text("currency").notNullable();
        t.bigInteger("price_micros").notNullable();
        t.bigInteger("previous_price_micros");
        t.double("change_percent");
        // When the price was fetched.
        t.timestamp("created_at", { useTz: true }).notNullable();
        t.index(["provider_account_id", "country", "created_at"]);
        t.index(["tenant_id", "environment", "created_at"]);
      });
    },
  },
  {
    name: "20261206_140_routing_change_notices",
    async up(knex) {
      // Every committed change of what the routing caches (accounts, their
      // tenant's data key, routing profiles) is announced with the tenant's
      // id, whichever process or tool made it.
      await knex.raw(`
        create or replace function ${routingChangeChannel}() returns trigger language plpgsql as $$
        begin
          perform pg_notify('${routingChangeChannel}', coalesce(new.tenant_id, old.tenant_id));
          return null;
        end $$`);
      for (const table of ["provider_accounts", "tenant_data_keys", "routing_profiles"]) {
        await knex.raw(
          `create trigger ${table}_changed after insert or update or delete on ${table} for each row execute function ${routingChangeChannel}()`,
        );
      }
    },
  },
  {
    name: "20261211_140_routing_inbound_events_without_tenant_key",
    async up(knex) {
      await dropTenantForeignKeys(knex, ["inbound_provider_events"]);
    },
  },
];
