import type { Migration } from "./db/database";
import { newIdFunctionMigration } from "./db/new-id-migration";
import { outboxProgressMigration } from "./db/outbox-progress-migration";
import { dropTenantForeignKeys } from "./db/tenant-references";
import { outboxNotifyMigration } from "./outbox-signal";

// The outbox table's migrations, apart from the code that writes and reads
// it: applying them loads neither the event protos nor tracing.
export const outboxMigrations: Migration[] = [
  {
    name: "20261121_002_core_outbox_events",
    async up(knex) {
      // Databases made before the outbox had a migration of its own got the
      // table from routing's first migration.
      if (await knex.schema.hasTable("outbox_events")) return;
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
  outboxNotifyMigration,
  {
    // The W3C traceparent of the change that wrote the event, so the event's
    // deliveries join that trace.
    name: "20261206_130_core_outbox_trace_context",
    async up(knex) {
      await knex.raw("alter table outbox_events add column if not exists traceparent text");
    },
  },
  // With the outbox's, since every database has those: the readers of the
  // outbox make rows in SQL with it.
  newIdFunctionMigration,
  {
    name: "20261211_100_core_outbox_events_without_tenant_key",
    async up(knex) {
      await dropTenantForeignKeys(knex, ["outbox_events"]);
    },
  },
];
