import type { Idempotency, Room, RoomModule } from "@onerouter/core";
import type { WebhookNonceStore } from "@onerouter/routing";
import { MessagingEngine, type MessagingEngineOptions } from "./engine";
import { messagingMigrations } from "./migrations";
import { messagingCallbackRoutes, messagingRoutes } from "./routes";

export interface MessagingRoomDeps {
  engine: MessagingEngineOptions;
  idempotency: Idempotency;
  webhookNonces: WebhookNonceStore;
}

export interface MessagingRoom extends Room {
  engine: MessagingEngine;
}

// MessagingService and the providers' delivery callbacks.
export const messagingRoom: RoomModule<MessagingRoomDeps, MessagingRoom> = {
  name: "messaging",
  migrations: messagingMigrations,
  open({ engine: options, idempotency, webhookNonces }) {
    const engine = new MessagingEngine(options);
    return {
      engine,
      routes: messagingRoutes(engine, idempotency),
      httpRoutes: messagingCallbackRoutes(engine, webhookNonces),
    };
  },
};
