import type { ServiceImpl } from "@connectrpc/connect";
import type { WebhookService } from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import type { Knex, MasterKeyring } from "@onerouter/core";
import type { DeliveryWorker } from "./delivery/worker";
import { deliveryMethods } from "./webhook-service/deliveries";
import { endpointMethods } from "./webhook-service/endpoints";
import { eventMethods } from "./webhook-service/events";

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
}

// WebhookService: the customer's endpoints (webhook-service/endpoints.ts),
// the event log and test pings (webhook-service/events.ts), and delivery
// attempts, resends and recovery (webhook-service/deliveries.ts). Delivering
// is the dispatcher's.
export function webhookService(deps: WebhookServiceDeps): ServiceImpl<typeof WebhookService> {
  return { ...endpointMethods(deps), ...eventMethods(deps), ...deliveryMethods(deps) };
}
