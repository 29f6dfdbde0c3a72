import { addRollupStripe, createRollupTrigger, dropTenantForeignKeys, rebuildRollup, utcHourSql, type Migration, type RollupDefinition } from "@onerouter/core/migrations";
import { attemptRollupTables, createAttemptRollups, replaceAttemptRollupTrigger, stripeAttemptRollups, type AttemptRollupOptions } from "@onerouter/routing/attempt-rollups";

// Messages and the provider calls made for them (attempts). Prices are int64
// micros of price_currency. The delivery callbacks received about them are
// in routing's inbound_provider_events.
export const messagingMigrations: Migration[] = [
  {
    name: "20261121_020_messaging_messages_attempts_callbacks",
    async up(knex) {
      await knex.schema.createTable("messages", (t) => {
        t.text("id").primary();
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("environment").notNullable();
        // sms or email.
        t.text("channel").notNullable();
        t.text("status").notNullable();
        // The SmsContent or EmailContent as proto3 JSON.
        t.jsonb("content").notNullable();
        t.jsonb("metadata").notNullable().defaultTo("{}");
        // SMS: destination country, parts and their encoding (gsm7 or ucs2).
        t.text("country").notNullable().defaultTo("");
        t.integer("segments").notNullable().defaultTo(0);
        t.text("encoding").notNullable().defaultTo("");
        // What providers charge by: SMS segments, or email recipients.
        t.integer("billable_units").notNullable().defaultTo(1);
        // The account of the latest attempt, and the price routing estimated there.
        t.text("provider").notNullable().defaultTo("");
        t.text("provider_account_id").notNullable().defaultTo("");
        t.text("provider_message_id").notNullable().defaultTo("");
        t.bigInteger("price_micros").notNullable().defaultTo(0);
        t.text("price_currency").notNullable().defaultTo("");
        // ProviderError as proto3 JSON, set when FAILED or UNDELIVERED.
        t.jsonb("error");
        t.timestamp("created_at", { useTz: true }).notNullable();
        t.timestamp("updated_at", { useTz: true }).notNullable();
        t.timestamp("sent_at", { useTz: true });
        t.timestamp("delivered_at", { useTz: true });
        t.index(["tenant_id", "environment", "created_at"]);
      });
      await knex.schema.createTable("message_attempts", (t) => {
        // Also the reference the provider echoes in its callbacks.
        t.text("id").primary();
        t.text("message_id").notNullable().references("messages.id").onDelete("CASCADE");
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("environment").notNullable();
        t.text("provider").notNullable();
        t.text("provider_account_id").notNullable();
        t.text("status").notNullable();
        t.jsonb("error");
        t.integer("latency_ms").notNullable().defaultTo(0);
        t.bigInteger("price_micros").notNullable().defaultTo(0);
        t.text("provider_message_id").notNullable().defaultTo("");
        t.timestamp("created_at", { useTz: true }).notNullable();
        t.timestamp("updated_at", { useTz: true }).notNullable();
        t.index(["message_id"]);
        // Success rates per account over a window.
        t.index(["provider_account_id", "created_at"]);
        // Callbacks that name only the provider's message id.
        t.index(["provider_account_id", "provider_message_id"]);
      });
      await knex.schema.createTable("message_callbacks", (t) => {
        t.text("id").primary();
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("environment").notNullable();
        t.text("provider").notNullable();
        t.text("provider_account_id").notNullable();
        t.text("provider_event_id").notNullable();
        // The body exactly as received (a batch is stored with each of its events).
        t.binary("payload").notNullable();
        t.timestamp("received_at", { useTz: true }).notNullable();
        t.unique(["provider_account_id", "provider_event_id"]);
      });
    },
  },
  {
    // Its rows moved to routing's inbound_provider_events (20261204_010).
    name: "20261204_012_messaging_drop_message_callbacks",
    async up(knex) {
      await knex.schema.dropTable("message_callbacks");
    },
  },
  {
    name: "20261205_071_messaging_rollups",
    async up(knex) {
      await knex.schema.alterTable("messages", (t) => {
        // The API key whose call created the message; empty for the system's own calls.
        t.text("api_key_id").notNullable().defaultTo("");
        // Micros of price_currency: what the most expensive eligible account
        // and the default account would have charged, as routing estimated
        // when it chose the one in price_micros.
        t.bigInteger("highest_eligible_price_micros").notNullable().defaultTo(0);
        t.bigInteger("default_provider_price_micros").notNullable().defaultTo(0);
      });
      await knex.schema.createTable("message_rollups", (t) => {
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("environment").notNullable();
        // The UTC hour the messages were created in.
        t.timestamp("hour", { useTz: true }).notNullable();
        t.text("channel").notNullable();
        t.text("provider").notNullable();
        t.text("provider_account_id").notNullable();
        t.text("api_key_id").notNullable();
        t.text("price_currency").notNullable();
        t.text("status").notNullable();
        t.bigInteger("messages").notNullable();
        t.bigInteger("billable_units").notNullable();
        t.bigInteger("price_micros").notNullable();
        t.bigInteger("highest_eligible_price_micros").notNullable();
        t.bigInteger("default_provider_price_micros").notNullable();
        t.primary(["tenant_id", "environment", "hour", "channel", "provider", "provider_account_id", "api_key_id", "price_currency", "status"]);
      });
      // Exports and lists page through a tenant's messages in (created_at, id)
      // order; the index this extends goes.
      await knex.schema.alterTable("messages", (t) => {
        t.index(["tenant_id", "environment", "created_at", "id"]);
        t.dropIndex(["tenant_id", "environment", "created_at"]);
      });
      // The table has no stripes until 20261208_381.
      await createRollupTrigger(knex, { ...messageRollup, stripe: undefined });
      await rebuildRollup(knex, { ...messageRollup, stripe: undefined });
      await createAttemptRollups(knex, messageAttemptRollups);
    },
  },
  {
    // Why routing put the attempt's account where it was, e.g. "chosen: best score 0.97 × fee 1.9 %".
    name: "20261205_082_messaging_attempt_routing_reason",
    async up(knex) {
      await knex.schema.alterTable("message_attempts", (t) => {
        t.text("routing_reason").notNullable().defaultTo("");
      });
    },
  },
  {
    name: "20261206_142_messaging_list_filter_indexes",
    async up(knex) {
      // Each ListMessages filter is a range of an index, in the list's
      // order, so a filter that matches little reads little.
      await knex.schema.alterTable("messages", (t) => {
        t.index(["tenant_id", "environment", "status", "created_at", "id"]);
        t.index(["tenant_id", "environment", "provider", "created_at", "id"]);
        t.index(["tenant_id", "environment", "channel", "created_at", "id"]);
      });
    },
  },
  {
    // Concurrent writes of one tenant in one hour add to one rollup key; with
    // stripes they mostly lock different rows instead of queueing until commit.
    name: "20261208_381_messaging_striped_rollups",
    async up(knex) {
      await addRollupStripe(knex, "message_rollups", Object.keys(messageRollup.keys));
      await createRollupTrigger(knex, messageRollup);
      await stripeAttemptRollups(knex, messageAttemptRollups);
    },
  },
  {
    name: "20261211_300_messaging_without_tenant_keys",
    async up(knex) {
      const { rollups, errors, failovers } = attemptRollupTables("message");
      await dropTenantForeignKeys(knex, ["messages", "message_attempts", "message_rollups", rollups, errors, failovers]);
    },
  },
  {
    name: "20261211_301_messaging_attempt_rollup_trigger_histogram",
    async up(knex) {
      await replaceAttemptRollupTrigger(knex, messageAttemptRollups);
    },
  },
  {
    // The rollup triggers as the code now writes them: each adds to its
    // rollup row by an update, inserting only a key's first row.
    name: "20261212_300_messaging_rollup_triggers_update_first",
    async up(knex) {
      await createRollupTrigger(knex, messageRollup);
      await replaceAttemptRollupTrigger(knex, messageAttemptRollups);
    },
  },
];

// Messages per hour of creation, account, API key and status; a message
// moves between them as its status changes.
export const messageRollup: RollupDefinition = {
  source: "messages",
  rollup: "message_rollups",
  stripe: "{r}.id",
  keys: {
    tenant_id: "{r}.tenant_id",
    environment: "{r}.environment",
    hour: utcHourSql("{r}.created_at"),
    channel: "{r}.channel",
    provider: "{r}.provider",
    provider_account_id: "{r}.provider_account_id",
    api_key_id: "{r}.api_key_id",
    price_currency: "{r}.price_currency",
    status: "{r}.status",
  },
  sums: {
    messages: "1",
    billable_units: "{r}.billable_units",
    price_micros: "{r}.price_micros",
    highest_eligible_price_micros: "{r}.highest_eligible_price_micros",
    default_provider_price_micros: "{r}.default_provider_price_micros",
  },
};

export const messageAttemptRollups: AttemptRollupOptions = {
  parent: "message",
  open: ["pending", "unknown"],
  successful: ["sent", "delivered", "undelivered"],
};
