// What the rooms' migrations use of core, by files that load no server,
// telemetry, NATS or metrics: a command that opens the database checks its
// schema with these alone.
export type { Migration } from "./db/database";
export { outboxMigrations } from "./outbox-migrations";
export { idempotencyMigrations } from "./idempotency-migrations";
export { createInsertNotifyTrigger } from "./outbox-signal";
export { changeNoticeSetting } from "./db/change-notice-setting";
export { dropTenantForeignKeys } from "./db/tenant-references";
export { addRollupStripe, createRollupTrigger, latencyBucketCount, latencyBucketSql, rebuildRollup, type RollupDefinition, rollupStripeSql, utcHourSql } from "./rollups";
