import type { ConnectRouter } from "@connectrpc/connect";
import { MessagingService } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { inboundEventRoutes, type WebhookNonceStore } from "@onerouter/routing";
import { type HttpRoute, type Idempotency } from "@onerouter/core";
import type { MessagingEngine } from "./engine";
import { messagingService } from "./messaging-service";

export function messagingRoutes(engine: MessagingEngine, idempotency: Idempotency) {
  return (router: ConnectRouter) => {
    router.service(MessagingService, messagingService(engine, idempotency));
  };
}

// Where each messaging provider account's delivery callbacks arrive: see routing's inbound-webhooks.
export function messagingCallbackRoutes(engine: MessagingEngine, nonces: WebhookNonceStore): HttpRoute[] {
  return inboundEventRoutes(engine.inboundEvents(), nonces);
}
