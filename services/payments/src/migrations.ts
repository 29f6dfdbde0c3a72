import { addRollupStripe, createRollupTrigger, dropTenantForeignKeys, rebuildRollup, utcHourSql, type Migration, type RollupDefinition } from "@onerouter/core/migrations";
import { attemptRollupTables, createAttemptRollups, replaceAttemptRollupTrigger, stripeAttemptRollups, type AttemptRollupOptions } from "@onerouter/routing/attempt-rollups";

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
    name: "20261205_070_payments_rollups",
    async up(knex) {
      await knex.schema.alterTable("payments", (t) => {
        // The API key whose call created the payment; empty for the system's own calls.
        t.text("api_key_id").notNullable().defaultTo("");
        // Minor units: what the serving account charges for the payment, and
        // what the most expensive eligible account and the default account
        // would have charged, as routing estimated when it chose.
        t.bigInteger("fee").notNullable().defaultTo(0);
        t.bigInteger("highest_eligible_fee").notNullable().defaultTo(0);
        t.bigInteger("default_provider_fee").notNullable().defaultTo(0);
      });
      await knex.schema.createTable("payment_rollups", (t) => {
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("environment").notNullable();
        // The UTC hour the payments were created in.
        t.timestamp("hour", { useTz: true }).notNullable();
        t.text("currency").notNullable();
        t.text("provider").notNullable();
        t.text("provider_account_id").notNullable();
        t.text("api_key_id").notNullable();
        t.text("status").notNullable();
        t.bigInteger("payments").notNullable();
        t.bigInteger("amount").notNullable();
        t.bigInteger("fee").notNullable();
        t.bigInteger("highest_eligible_fee").notNullable();
        t.bigInteger("default_provider_fee").notNullable();
        t.primary(["tenant_id", "environment", "hour", "currency", "provider", "provider_account_id", "api_key_id", "status"]);
      });
      // Exports and lists page through a tenant's payments in (created_at, id)
      // order; the index this extends goes.
      await knex.schema.alterTable("payments", (t) => {
        t.index(["tenant_id", "environment", "created_at", "id"]);
        t.dropIndex(["tenant_id", "environment", "created_at"]);
      });
      // The table has no stripes until 20261208_380.
      await createRollupTrigger(knex, { ...paymentRollup, stripe: undefined });
      await rebuildRollup(knex, { ...paymentRollup, stripe: undefined });
      await createAttemptRollups(knex, paymentAttemptRollups);
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
  {
    name: "20261206_141_payments_list_filter_indexes",
    async up(knex) {
      // Each ListPayments filter is a range of an index, in the list's
      // order, so a filter that matches little reads little.
      await knex.schema.alterTable("payments", (t) => {
        t.index(["tenant_id", "environment", "status", "created_at", "id"]);
        t.index(["tenant_id", "environment", "provider", "created_at", "id"]);
      });
    },
  },
  {
    name: "20261208_350_payments_list_status_provider_index",
    async up(knex) {
      // A list filtered by status and provider walks one index range too,
      // instead of the status range with each row's provider checked: a
      // provider that is rare among one status would read all of that status.
      await knex.schema.alterTable("payments", (t) => {
        t.index(["tenant_id", "environment", "status", "provider", "created_at", "id"], "payments_scope_status_provider_created");
      });
    },
  },
  {
    // Concurrent writes of one tenant in one hour add to one rollup key; with
    // stripes they mostly lock different rows instead of queueing until commit.
    name: "20261208_380_payments_striped_rollups",
    async up(knex) {
      await addRollupStripe(knex, "payment_rollups", Object.keys(paymentRollup.keys));
      await createRollupTrigger(knex, paymentRollup);
      await stripeAttemptRollups(knex, paymentAttemptRollups);
    },
  },
  {
    // A provider's webhook names its payment or refund by the provider's id
    // when it carries none of ours (a refund always; a payment whose
    // metadata lost our attempt id): each is found by an index range, as
    // messaging's callbacks find their message, instead of reading every
    // attempt of the account or every refund.
    name: "20261210_200_payments_provider_id_indexes",
    async up(knex) {
      await knex.schema.alterTable("payment_attempts", (t) => {
        t.index(["provider_account_id", "provider_payment_id"]);
      });
      await knex.schema.alterTable("refunds", (t) => {
        t.index(["provider_account_id", "provider_refund_id"]);
      });
    },
  },
  {
    name: "20261211_200_payments_without_tenant_keys",
    async up(knex) {
      const { rollups, errors, failovers } = attemptRollupTables("payment");
      await dropTenantForeignKeys(knex, ["payments", "payment_attempts", "refunds", "payment_rollups", rollups, errors, failovers]);
    },
  },
  {
    name: "20261211_201_payments_attempt_rollup_trigger_histogram",
    async up(knex) {
      await replaceAttemptRollupTrigger(knex, paymentAttemptRollups);
    },
  },
  {
    // The rollup triggers as the code now writes them: each adds to its
    // rollup row by an update, inserting only a key's first row.
    name: "20261212_200_payments_rollup_triggers_update_first",
    async up(knex) {
      await createRollupTrigger(knex, paymentRollup);
      await replaceAttemptRollupTrigger(knex, paymentAttemptRollups);
    },
  },
];

// Payments per hour of creation, account, API key and status; a payment
// moves between them as its status changes.
export const paymentRollup: RollupDefinition = {
  source: "payments",
  rollup: "payment_rollups",
  stripe: "{r}.id",
  keys: {
    tenant_id: "{r}.tenant_id",
    environment: "{r}.environment",
    hour: utcHourSql("{r}.created_at"),
    currency: "{r}.currency",
    provider: "{r}.provider",
    provider_account_id: "{r}.provider_account_id",
    api_key_id: "{r}.api_key_id",
    status: "{r}.status",
  },
  sums: {
    payments: "1",
    amount: "{r}.amount",
    fee: "{r}.fee",
    highest_eligible_fee: "{r}.highest_eligible_fee",
    default_provider_fee: "{r}.default_provider_fee",
  },
};

export const paymentAttemptRollups: AttemptRollupOptions = {
  parent: "payment",
  open: ["pending", "unknown"],
  successful: ["succeeded", "requires_capture", "requires_action"],
};
