import type { Knex, MasterKeyring } from "@onerouter/core";
import type { DeliveryWorker } from "../delivery/worker";
import type { EventStreamHub } from "../event-stream/hub";

// What WebhookService's methods run on, apart from the service so each
// method group names it without importing the service that composes them.
export interface WebhookServiceDeps {
  knex: Knex;
  // Seals endpoint signing secrets at rest.
  masterKeys: MasterKeyring;
  // Private ranges endpoints may point at anyway (ONEROUTER_WEBHOOK_ALLOWED_CIDRS).
  allowedCidrs?: readonly string[];
  // How far back RecoverEndpoint reaches: events are pruned after this (default 30).
  eventRetentionDays?: number;
  // The worker in this process, if any: woken when deliveries are queued, and
  // asked to make a resend's attempt at once. Without one the deliveries wait
  // for a dispatcher's next pass.
  worker?: Pick<DeliveryWorker, "wake" | "resend">;
  // Wakes StreamEvents calls when their tenant's events are recorded.
  eventHub: EventStreamHub;
}
