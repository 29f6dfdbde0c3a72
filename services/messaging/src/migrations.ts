import type { Migration } from "@onerouter/core";

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
    // Why routing put the attempt's account where it was, e.g. "chosen: best score 0.97 × fee 1.9 %".
    name: "20261205_082_messaging_attempt_routing_reason",
    async up(knex) {
      await knex.schema.alterTable("message_attempts", (t) => {
        t.text("routing_reason").notNullable().defaultTo("");
      });
    },
  },
];
