import type { ServiceImpl } from "@connectrpc/connect";
import type { WebhookService } from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import { deliveryMethods } from "./service-deliveries";
import { endpointMethods } from "./service-endpoints";
import type { WebhookServiceDeps } from "./service-deps";
import { eventMethods } from "./service-events";

// WebhookService: the customer's endpoints (service-endpoints.ts), the event
// log and test pings (service-events.ts), and delivery attempts, resends and
// recovery (service-deliveries.ts). Delivering is the dispatcher's.
export function webhookService(deps: WebhookServiceDeps): ServiceImpl<typeof WebhookService> {
  return { ...endpointMethods(deps), ...eventMethods(deps), ...deliveryMethods(deps) };
}
