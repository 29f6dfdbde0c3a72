import { inboundEventRoutes, type WebhookNonceStore } from "@onerouter/routing";
import { type HttpRoute } from "@onerouter/core";
import type { PaymentEngine } from "./engine";

// Where each payment provider account's webhooks arrive: see routing's inbound-webhooks.
export function inboundPaymentWebhookRoutes(engine: PaymentEngine, nonces: WebhookNonceStore): HttpRoute[] {
  return inboundEventRoutes(engine.inboundEvents(), nonces);
}
