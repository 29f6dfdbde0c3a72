import { idempotencyMigrations, outboxMigrations, type Migration } from "@onerouter/core/migrations";
import { adminMigrations } from "@onerouter/admin/migrations";
import { gatekeeperMigrations } from "@onerouter/gatekeeper/migrations";
import { messagingMigrations } from "@onerouter/messaging/migrations";
import { paymentsMigrations } from "@onerouter/payments/migrations";
import { routingMigrations } from "@onerouter/routing/migrations";
import { webhookMigrations } from "@onerouter/webhooks/migrations";

// The infrastructure's migrations and every room's, applied in name order.
// A server migrates them all whatever rooms it hosts: they share one
// database, whose history knex checks against the full list. The rooms'
// come from their migrations-only exports, so a CLI command that opens the
// database loads no service, SDK or RPC handler to check them.
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
