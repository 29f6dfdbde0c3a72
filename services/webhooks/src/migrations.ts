import { createInsertNotifyTrigger, createRollupTrigger, dropTenantForeignKeys, rebuildRollup, utcHourSql, type Migration, type RollupDefinition } from "@onerouter/core/migrations";

// Outbound webhooks. A delivery is one event owed to one endpoint: fan-out
// inserts it once (unique per event and endpoint), so repeating a fan-out
// after a crash owes nothing twice. Each try is an attempt row. Fan-out keeps
// its own copy of each event it handled (webhook_events), so deliveries,
// listings and retention never read core's outbox.
export const webhookMigrations: Migration[] = [
  {
    name: "20261121_010_webhooks_endpoints_deliveries",
    async up(knex) {
      await knex.schema.createTable("webhook_endpoints", (t) => {
        t.text("id").primary();
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("environment").notNullable();
        t.text("url").notNullable();
        t.text("description").notNullable().defaultTo("");
        // Event type filters; empty means every type; "refund.*" matches a prefix.
        t.jsonb("event_types").notNullable().defaultTo("[]");
        // enabled | disabled (by the customer) | failing (by OneRouter)
        t.text("status").notNullable().defaultTo("enabled");
        t.text("disabled_reason").notNullable().defaultTo("");
        t.jsonb("metadata").notNullable().defaultTo("{}");
        // Signing secrets, newest first: [{ sealed, created_at, expires_at }].
        // Every unexpired one signs, so rotation has an overlap window.
        t.jsonb("secrets").notNullable();
        // Start of the current run of failed deliveries; cleared by a success.
        t.timestamp("failing_since", { useTz: true });
        t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
        t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
        t.index(["tenant_id", "environment", "created_at"]);
      });
      await knex.schema.createTable("webhook_deliveries", (t) => {
        t.text("id").primary();
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("environment").notNullable();
        t.text("event_id").notNullable().references("outbox_events.id").onDelete("CASCADE");
        t.text("endpoint_id").notNullable().references("webhook_endpoints.id").onDelete("CASCADE");
        // pending | succeeded | failed
        t.text("status").notNullable().defaultTo("pending");
        t.integer("attempt_count").notNullable().defaultTo(0);
        t.timestamp("next_attempt_at", { useTz: true });
        // A dispatcher's lease while it delivers; another may take over after it.
        t.timestamp("claimed_until", { useTz: true });
        t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
        t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
        t.unique(["event_id", "endpoint_id"]);
        t.index(["endpoint_id", "created_at"]);
      });
      await knex.raw(
        "create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where status = 'pending'",
      );
      await knex.schema.createTable("webhook_delivery_attempts", (t) => {
        t.text("id").primary();
        t.text("delivery_id").notNullable().references("webhook_deliveries.id").onDelete("CASCADE");
        t.text("tenant_id").notNullable();
        t.text("environment").notNullable();
        t.text("event_id").notNullable();
        t.text("endpoint_id").notNullable();
        t.integer("attempt_number").notNullable();
        // succeeded | failed
        t.text("status").notNullable();
        t.integer("response_status_code").notNullable().defaultTo(0);
        // At most 4 KiB of the response.
        t.text("response_body").notNullable().defaultTo("");
        t.integer("latency_ms").notNullable().defaultTo(0);
        t.text("error").notNullable().defaultTo("");
        t.timestamp("next_attempt_at", { useTz: true });
        t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
        t.index(["tenant_id", "environment", "created_at"]);
        t.index(["delivery_id"]);
      });
    },
  },
  {
    // Events fanned out before webhooks kept its own copy are copied from the
    // outbox; the rest are copied by fan-out when the feed hands them over.
    name: "20261204_020_webhooks_events",
    async up(knex) {
      await knex.schema.createTable("webhook_events", (t) => {
        t.text("id").primary();
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("environment").notNullable();
        t.text("type").notNullable();
        // The binary onerouter.events.v1.Event, as published.
        t.binary("payload").notNullable();
        t.timestamp("created_at", { useTz: true }).notNullable();
        t.index(["tenant_id", "environment", "created_at"]);
        t.index(["created_at"]);
      });
      await knex.raw(
        `insert into webhook_events (id, tenant_id, environment, type, payload, created_at)
         select o.id, o.tenant_id, o.environment, o.type, o.payload, o.created_at
           from outbox_events o
          where o.fanned_out_at is not null
             or exists (select 1 from webhook_deliveries d where d.event_id = o.id)`,
      );
      await knex.schema.alterTable("webhook_deliveries", (t) => {
        t.dropForeign(["event_id"]);
        t.foreign("event_id").references("webhook_events.id").onDelete("CASCADE");
      });
    },
  },
  {
    name: "20261205_072_webhooks_delivery_rollups",
    async up(knex) {
      await knex.schema.createTable("webhook_delivery_rollups", (t) => {
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("environment").notNullable();
        // The UTC hour the deliveries were created in.
        t.timestamp("hour", { useTz: true }).notNullable();
        t.text("status").notNullable();
        t.bigInteger("deliveries").notNullable();
        t.primary(["tenant_id", "environment", "hour", "status"]);
      });
      // Exports page through a tenant's deliveries in (created_at, id) order.
      await knex.schema.alterTable("webhook_deliveries", (t) => t.index(["tenant_id", "environment", "created_at", "id"]));
      await createRollupTrigger(knex, deliveryRollup);
      await rebuildRollup(knex, deliveryRollup);
    },
  },
  {
    // The trace of the change that wrote the event, which its deliveries join.
    name: "20261206_131_webhooks_event_trace_context",
    async up(knex) {
      await knex.raw("alter table webhook_events add column if not exists traceparent text");
    },
  },
  {
    name: "20261206_151_webhooks_delivery_claim_indexes",
    async up(knex) {
      // A claim reads each endpoint's due deliveries in order and counts its
      // leased ones, through these, whatever the length of its queue.
      await knex.raw(
        `create index if not exists webhook_deliveries_endpoint_due
           on webhook_deliveries (endpoint_id, next_attempt_at, id) where status = 'pending'`,
      );
      await knex.raw(
        `create index if not exists webhook_deliveries_endpoint_leased
           on webhook_deliveries (endpoint_id, claimed_until) where status = 'pending' and claimed_until is not null`,
      );
    },
  },
  {
    // The order events were recorded in, which StreamEvents follows and
    // resumes from. Ids sort by creation time, not by commit, so they cannot
    // serve: an event created earlier may commit later. Events already kept
    // are numbered in creation order.
    name: "20261206_170_webhooks_event_sequence",
    async up(knex) {
      await knex.raw("create sequence webhook_events_seq as bigint");
      await knex.raw("alter table webhook_events add column seq bigint");
      await knex.raw(
        `update webhook_events e set seq = numbered.n
           from (select id, nextval('webhook_events_seq') as n
                   from (select id from webhook_events order by created_at, id) ordered) numbered
          where numbered.id = e.id`,
      );
      await knex.raw(
        "alter table webhook_events alter column seq set default nextval('webhook_events_seq'), alter column seq set not null",
      );
      await knex.raw("alter sequence webhook_events_seq owned by webhook_events.seq");
      await knex.raw("create unique index webhook_events_seq_key on webhook_events (seq)");
      await knex.raw("create index webhook_events_scope_seq on webhook_events (tenant_id, environment, seq)");
    },
  },
  {
    // ListEvents and ListDeliveryAttempts read one page of the newest rows
    // of each filter from an index range, however many rows the tenant has:
    // by event type (exact, or a prefix through the pattern operator class,
    // whatever the database's collation), and attempts by endpoint, event
    // and status. The scope indexes gain the id the pages are ordered by.
    name: "20261207_250_webhooks_list_indexes",
    async up(knex) {
      await knex.raw("drop index if exists webhook_events_tenant_id_environment_created_at_index");
      await knex.raw("create index webhook_events_scope_created on webhook_events (tenant_id, environment, created_at, id)");
      await knex.raw("create index webhook_events_scope_type on webhook_events (tenant_id, environment, type text_pattern_ops, created_at, id)");
      await knex.raw("drop index if exists webhook_delivery_attempts_tenant_id_environment_created_at_index");
      for (const column of ["", "endpoint_id", "event_id", "status"]) {
        const name = `webhook_delivery_attempts_scope${column ? `_${column.replace(/_id$/, "")}` : ""}_created`;
        await knex.raw(`create index ${name} on webhook_delivery_attempts (tenant_id, environment, ${column ? `${column}, ` : ""}created_at, id)`);
      }
    },
  },
  {
    // Event streams in every process hear of events another process recorded
    // at its commit rather than at their next poll: one notification per
    // recording statement, folded by Postgres into one per transaction.
    name: "20261207_260_webhooks_event_notify",
    up: (knex) => createInsertNotifyTrigger(knex, "webhook_events", webhookEventsNotifyChannel),
  },
  {
    // Claims read each endpoint's due deliveries through
    // webhook_deliveries_endpoint_due. With this index about, the planner
    // could walk every endpoint's due deliveries in time order instead and
    // read past a whole backlog at one endpoint to reach another's.
    name: "20261207_261_webhooks_drop_due_index",
    async up(knex) {
      await knex.raw("drop index if exists webhook_deliveries_due");
    },
  },
  {
    name: "20261211_260_webhooks_without_tenant_keys",
    async up(knex) {
      await dropTenantForeignKeys(knex, ["webhook_events", "webhook_deliveries", "webhook_delivery_rollups"]);
    },
  },
  {
    // The delivery rollup's trigger as the code now writes it: it adds to
    // its rollup row by an update, inserting only a key's first row.
    name: "20261212_260_webhooks_rollup_trigger_update_first",
    async up(knex) {
      await createRollupTrigger(knex, deliveryRollup);
    },
  },
];

// Where the webhook_events trigger announces recorded events.
export const webhookEventsNotifyChannel = "onerouter_webhook_events";

// Deliveries per hour of creation and status. Kept when retention deletes
// the deliveries themselves.
export const deliveryRollup: RollupDefinition = {
  source: "webhook_deliveries",
  rollup: "webhook_delivery_rollups",
  keys: {
    tenant_id: "{r}.tenant_id",
    environment: "{r}.environment",
    hour: utcHourSql("{r}.created_at"),
    status: "{r}.status",
  },
  sums: { deliveries: "1" },
};
