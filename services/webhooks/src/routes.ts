import type { ConnectRouter } from "@connectrpc/connect";
import { WebhookService } from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import { webhookService } from "./webhook-service";
import type { WebhookServiceDeps } from "./webhook-service/deps";

export function webhookRoutes(deps: WebhookServiceDeps) {
  return (router: ConnectRouter) => {
    router.service(WebhookService, webhookService(deps));
  };
}
