import type { Idempotency, Room } from "@onerouter/core";
import type { WebhookNonceStore } from "./inbound-webhooks";

// What a room that routes calls to providers (payments, messaging) opens
// with: its engine's options, and the stores its RPCs and inbound provider
// routes share with the host.
export interface ProviderRoomDeps<EngineOptions> {
  engine: EngineOptions;
  idempotency: Idempotency;
  webhookNonces: WebhookNonceStore;
}

export interface ProviderRoom<Engine> extends Room {
  engine: Engine;
}
