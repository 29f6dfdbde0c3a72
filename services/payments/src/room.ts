import type { Idempotency, Room, RoomModule } from "@onerouter/core";
import type { WebhookNonceStore } from "@onerouter/routing";
import { PaymentEngine, type PaymentEngineOptions } from "./engine";
import { inboundPaymentWebhookRoutes } from "./inbound-webhooks";
import { paymentsMigrations } from "./migrations";
import { paymentRoutes } from "./routes";

export interface PaymentsRoomDeps {
  engine: PaymentEngineOptions;
  idempotency: Idempotency;
  webhookNonces: WebhookNonceStore;
}

export interface PaymentsRoom extends Room {
  engine: PaymentEngine;
}

// PaymentService, the providers' inbound webhooks, and the resolver that
// settles attempts whose outcome is unknown.
export const paymentsRoom: RoomModule<PaymentsRoomDeps, PaymentsRoom> = {
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
