import type { Migration } from "@onerouter/core";

// Payments, the provider calls made for them (attempts) and refunds. Amounts
// are int64 minor units. The provider webhooks received about them are in
// routing's inbound_provider_events.
export const paymentsMigrations: Migration[] = [
  {
    name: "20261121_010_payments_payments_attempts_refunds",
    async up(knex) {
      await knex.schema.createTable("payments", (t) => {
        t.text("id").primary();
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("environment").notNullable();
        t.bigInteger("amount").notNullable();
        t.text("currency").notNullable();
        t.text("capture_method").notNullable();
        t.text("status").notNullable();
        t.jsonb("customer").notNullable().defaultTo("{}");
        t.text("description").notNullable().defaultTo("");
        t.jsonb("metadata").notNullable().defaultTo("{}");
        // Kept so an attempt can be made again after an unknown one turns out never sent.
        t.text("payment_method_token").notNullable().defaultTo("");
        t.text("return_url").notNullable().defaultTo("");
        // The account of the latest attempt: the one serving or holding the payment.
        t.text("provider").notNullable().defaultTo("");
        t.text("provider_account_id").notNullable().defaultTo("");
        t.text("provider_payment_id").notNullable().defaultTo("");
        t.text("redirect_url").notNullable().defaultTo("");
        t.bigInteger("amount_capturable").notNullable().defaultTo(0);
        t.bigInteger("amount_captured").notNullable().defaultTo(0);
        // Includes refunds still pending, so concurrent refunds cannot exceed the captured amount.
        t.bigInteger("amount_refunded").notNullable().defaultTo(0);
        // ProviderError as proto3 JSON, set when FAILED.
        t.jsonb("error");
        t.timestamp("created_at", { useTz: true }).notNullable();
        t.timestamp("updated_at", { useTz: true }).notNullable();
        t.index(["tenant_id", "environment", "created_at"]);
      });
      await knex.schema.createTable("payment_attempts", (t) => {
        // Also the provider's idempotency key for the call.
        t.text("id").primary();
        t.text("payment_id").notNullable().references("payments.id").onDelete("CASCADE");
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("environment").notNullable();
        t.text("provider").notNullable();
        t.text("provider_account_id").notNullable();
        t.text("status").notNullable();
        t.jsonb("error");
        t.integer("latency_ms").notNullable().defaultTo(0);
        t.bigInteger("estimated_fee").notNullable().defaultTo(0);
        t.text("provider_payment_id").notNullable().defaultTo("");
        t.timestamp("created_at", { useTz: true }).notNullable();
        t.timestamp("updated_at", { useTz: true }).notNullable();
        t.index(["payment_id"]);
        // Success rates per account over a window.
        t.index(["provider_account_id", "created_at"]);
        // Unknown and stale pending attempts for the resolver.
        t.index(["status", "updated_at"]);
      });
      await knex.schema.createTable("refunds", (t) => {
        // Also the provider's idempotency key for the call.
        t.text("id").primary();
        t.text("payment_id").notNullable().references("payments.id").onDelete("CASCADE");
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("environment").notNullable();
        t.bigInteger("amount").notNullable();
        t.text("currency").notNullable();
        t.text("status").notNullable();
        t.text("reason").notNullable().defaultTo("");
        t.text("provider").notNullable();
        t.text("provider_account_id").notNullable();
        t.text("provider_refund_id").notNullable().defaultTo("");
        t.jsonb("error");
        t.jsonb("metadata").notNullable().defaultTo("{}");
        t.timestamp("created_at", { useTz: true }).notNullable();
        t.timestamp("updated_at", { useTz: true }).notNullable();
        t.index(["tenant_id", "environment", "created_at"]);
        t.index(["payment_id"]);
        t.index(["status", "updated_at"]);
      });
      await knex.schema.createTable("inbound_webhook_events", (t) => {
        t.text("id").primary();
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("environment").notNullable();
        t.text("provider").notNullable();
        t.text("provider_account_id").notNullable();
        t.text("provider_event_id").notNullable();
        // The body exactly as received.
        t.binary("payload").notNullable();
        t.timestamp("received_at", { useTz: true }).notNullable();
        t.unique(["provider_account_id", "provider_event_id"]);
      });
    },
  },
  {
    name: "20261121_011_payments_provider_tokens",
    async up(knex) {
      await knex.schema.alterTable("payments", (t) => {
        // Payment-method tokens by provider name, for failover across providers.
        t.jsonb("payment_method_provider_tokens").notNullable().defaultTo("{}");
      });
    },
  },
  {
    // Its rows moved to routing's inbound_provider_events (20261204_010).
    name: "20261204_011_payments_drop_inbound_webhook_events",
    async up(knex) {
      await knex.schema.dropTable("inbound_webhook_events");
    },
  },
  {
    // Why routing put the attempt's account where it was, e.g. "chosen: best score 0.97 × fee 1.9 %".
    name: "20261205_081_payments_attempt_routing_reason",
    async up(knex) {
      await knex.schema.alterTable("payment_attempts", (t) => {
        t.text("routing_reason").notNullable().defaultTo("");
      });
    },
  },
];
