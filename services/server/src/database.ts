import path from "node:path";
import { idempotencyMigrations, openDatabase, outboxMigrations, type Config, type Database, type Migration } from "@onerouter/core";
import { adminMigrations } from "@onerouter/admin/migrations";
import { gatekeeperMigrations } from "@onerouter/gatekeeper/migrations";
import { messagingMigrations } from "@onerouter/messaging/migrations";
import { paymentsMigrations } from "@onerouter/payments/migrations";
import { routingMigrations } from "@onerouter/routing/migrations";
import { webhookMigrations } from "@onerouter/webhooks/migrations";

// The database every command and server opens, apart from the services that
// use it: the rooms' migrations come from their migrations-only exports, so a
// CLI command that opens the database loads no service, SDK or RPC code.

// The infrastructure's migrations and every room's, applied in name order.
// A server migrates them all whatever rooms it hosts: they share one
// database, whose history knex checks against the full list.
export const allMigrations: Migration[] = [
  ...outboxMigrations,
  ...routingMigrations,
  ...idempotencyMigrations,
  ...paymentsMigrations,
  ...messagingMigrations,
  ...adminMigrations,
  ...webhookMigrations,
  ...gatekeeperMigrations,
];

// A new embedded data folder starts from this tarball of every migration
// applied (when the build has made it) rather than from initdb.
export const pgliteTemplateFile = path.resolve(import.meta.dirname, "../dist/pglite-template.tgz");

export function openConfiguredDatabase(config: Config): Database {
  return openDatabase({ databaseUrl: config.databaseUrl, pgliteDir: path.join(config.dataDir, "pglite"), pgliteTemplate: pgliteTemplateFile });
}
