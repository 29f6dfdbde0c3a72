import type { RoomModule } from "@onerouter/core";
import { providerWorkers, type ProviderRoom, type ProviderRoomDeps } from "@onerouter/routing";
import { MessagingEngine, type MessagingEngineOptions } from "./engine";
import { messagingMigrations } from "./migrations";
import { messagingCallbackRoutes, messagingRoutes } from "./routes";

// MessagingService, the providers' delivery callbacks, and the background
// health probes and price sync of the messaging providers.
export const messagingRoom: RoomModule<ProviderRoomDeps<MessagingEngineOptions>, ProviderRoom<MessagingEngine>> = {
  name: "messaging",
  migrations: messagingMigrations,
  open({ engine: options, idempotency, webhookNonces, workers }) {
    const engine = new MessagingEngine(options);
    const background = workers && providerWorkers(options, workers);
    return {
      engine,
      routes: messagingRoutes(engine, idempotency),
      httpRoutes: messagingCallbackRoutes(engine, webhookNonces),
      start: () => background?.start(),
      stop: async () => {
        await background?.stop();
      },
    };
  },
};
