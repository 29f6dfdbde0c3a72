import type { RoomModule } from "@onerouter/core";
import type { ProviderRoom, ProviderRoomDeps } from "@onerouter/routing";
import { MessagingEngine, type MessagingEngineOptions } from "./engine";
import { messagingMigrations } from "./migrations";
import { messagingCallbackRoutes, messagingRoutes } from "./routes";

// MessagingService and the providers' delivery callbacks.
export const messagingRoom: RoomModule<ProviderRoomDeps<MessagingEngineOptions>, ProviderRoom<MessagingEngine>> = {
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
