import type { ServiceImpl } from "@connectrpc/connect";
import type { WebhookService } from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import { streamEventsMethod } from "./event-stream/stream-events";
import { deliveryMethods } from "./webhook-service/deliveries";
import type { WebhookServiceDeps } from "./webhook-service/deps";
import { endpointMethods } from "./webhook-service/endpoints";
import { eventMethods } from "./webhook-service/events";

// WebhookService: the customer's endpoints (webhook-service/endpoints.ts),
// the event log and test pings (webhook-service/events.ts), and delivery
// attempts, resends and recovery (webhook-service/deliveries.ts), and the
// event stream (event-stream/). Delivering is the dispatcher's.
export function webhookService(deps: WebhookServiceDeps): ServiceImpl<typeof WebhookService> {
  return {
    ...endpointMethods(deps),
    ...eventMethods(deps),
    ...deliveryMethods(deps),
    ...streamEventsMethod(deps.knex, deps.eventHub),
  };
}
