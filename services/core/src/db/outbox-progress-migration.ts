import type { Migration } from "./database";

// How far the outbox's events have travelled: fanned_out_at is set once an
// event's webhook deliveries exist (embedded mode's feed reads rows without
// it); relay_claimed_until is a relay's lease on a row it is publishing to
// JetStream. A data folder made before this migration existed already has
// both columns and both indexes, so each step is skipped where done.
export const outboxProgressMigration: Migration = {
  name: "20261204_005_core_outbox_fan_out_and_relay_progress",
  async up(knex) {
    await knex.raw("alter table outbox_events add column if not exists fanned_out_at timestamptz");
    await knex.raw("alter table outbox_events add column if not exists relay_claimed_until timestamptz");
    await knex.raw(
      "create index if not exists outbox_events_pending_fanout on outbox_events (created_at) where fanned_out_at is null",
    );
    await knex.raw(
      "create index if not exists outbox_events_pending_publish on outbox_events (created_at) where published_at is null",
    );
  },
};
