import { inboundWebhookRoutes, type WebhookNonceStore } from "@onerouter/routing";
import { type HttpRoute } from "@onerouter/core";
import type { PaymentEngine } from "./engine";

// Where each payment provider account's webhooks arrive: see core's inbound-webhooks.
export function inboundPaymentWebhookRoutes(engine: PaymentEngine, nonces: WebhookNonceStore): HttpRoute[] {
  return inboundWebhookRoutes(
    engine.providerDescriptors().map((d) => d.name),
    nonces,
    (provider, accountId, input) => engine.receiveWebhook(provider, accountId, input),
  );
}
