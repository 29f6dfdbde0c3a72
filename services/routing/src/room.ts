import type { Idempotency, Knex, Logger, Room } from "@onerouter/core";
import type { CircuitBreakers } from "./circuit-breaker";
import type { CategoryConnectors, RegisteredConnector } from "./connector-registry";
import type { WebhookNonceStore } from "./inbound-webhooks";
import { ProviderHealthStore, ProviderProber } from "./provider-health";
import type { ProviderAccountStore } from "./provider-accounts";
import { PriceSync, PublishedPrices } from "./published-prices";

// What a room that routes calls to providers (payments, messaging) opens
// with: its engine's options, and the stores its RPCs and inbound provider
// routes share with the host.
export interface ProviderRoomDeps<EngineOptions> {
  engine: EngineOptions;
  idempotency: Idempotency;
  webhookNonces: WebhookNonceStore;
  // Absent: the room runs no background provider workers.
  workers?: ProviderWorkerSettings;
}

export interface ProviderWorkerSettings {
  probeIntervalMs: number;
  // A probe answered slower than this is DEGRADED.
  degradedAfterMs: number;
  priceSyncIntervalMs: number;
  // A published price moving at least this many percent emits pricing.changed.
  priceChangeThresholdPercent: number;
}

// The background work of a room that calls providers: health probes of its
// category's accounts, and price sync where its providers publish prices.
// Started and stopped with the room.
export function providerWorkers<C extends RegisteredConnector>(
  engine: { knex: Knex; accounts: ProviderAccountStore; breakers: CircuitBreakers; connectors: CategoryConnectors<C>; logger?: Logger },
  settings: ProviderWorkerSettings,
): { start(): void; stop(): Promise<void> } {
  const { knex, accounts, breakers, connectors, logger } = engine;
  const prober = new ProviderProber({
    accounts,
    health: new ProviderHealthStore(knex),
    connectors,
    breakers,
    intervalMs: settings.probeIntervalMs,
    degradedAfterMs: settings.degradedAfterMs,
    logger,
  });
  const priceSync =
    connectors.pricedProviders().length > 0
      ? new PriceSync({
          knex,
          accounts,
          prices: new PublishedPrices(knex),
          connectors,
          intervalMs: settings.priceSyncIntervalMs,
          changeThresholdPercent: settings.priceChangeThresholdPercent,
          logger,
        })
      : undefined;
  return {
    start() {
      prober.start();
      priceSync?.start();
    },
    async stop() {
      await Promise.all([prober.stop(), priceSync?.stop()]);
    },
  };
}

export interface ProviderRoom<Engine> extends Room {
  engine: Engine;
}
