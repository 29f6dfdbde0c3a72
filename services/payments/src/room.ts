import type { RoomModule } from "@onerouter/core";
import type { ProviderRoom, ProviderRoomDeps } from "@onerouter/routing";
import { PaymentEngine, type PaymentEngineOptions } from "./engine";
import { inboundPaymentWebhookRoutes } from "./inbound-webhooks";
import { paymentsMigrations } from "./migrations";
import { paymentRoutes } from "./routes";

// PaymentService, the providers' inbound webhooks, and the resolver that
// settles attempts whose outcome is unknown.
export const paymentsRoom: RoomModule<ProviderRoomDeps<PaymentEngineOptions>, ProviderRoom<PaymentEngine>> = {
  name: "payments",
  migrations: paymentsMigrations,
  open({ engine: options, idempotency, webhookNonces }) {
    const engine = new PaymentEngine(options);
    let resolver: { stop(): Promise<void> } | undefined;
    return {
      engine,
      routes: paymentRoutes(engine, idempotency),
      httpRoutes: inboundPaymentWebhookRoutes(engine, webhookNonces),
      start() {
        resolver = engine.startResolver();
      },
      async stop() {
        await resolver?.stop();
      },
    };
  },
};
