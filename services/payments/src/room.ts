import type { RoomModule } from "@onerouter/core";
import { providerWorkers, type ProviderRoom, type ProviderRoomDeps } from "@onerouter/routing";
import { PaymentEngine, type PaymentEngineOptions } from "./engine";
import { inboundPaymentWebhookRoutes } from "./inbound-webhooks";
import { paymentsMigrations } from "./migrations";
import { paymentRoutes } from "./routes";

// PaymentService, the providers' inbound webhooks, and the resolver that
// settles attempts whose outcome is unknown, and the payment providers'
// background health probes.
export const paymentsRoom: RoomModule<ProviderRoomDeps<PaymentEngineOptions>, ProviderRoom<PaymentEngine>> = {
  name: "payments",
  migrations: paymentsMigrations,
  open({ engine: options, idempotency, webhookNonces, workers }) {
    const engine = new PaymentEngine(options);
    const background = workers && providerWorkers(options, workers);
    let resolver: { stop(): Promise<void> } | undefined;
    return {
      engine,
      routes: paymentRoutes(engine, idempotency),
      httpRoutes: inboundPaymentWebhookRoutes(engine, webhookNonces),
      async start() {
        resolver = engine.startResolver();
        await background?.start();
      },
      async stop() {
        await Promise.all([resolver?.stop(), background?.stop()]);
      },
    };
  },
};
