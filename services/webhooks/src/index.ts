import type { Config, EventStream, Knex, Logger, MasterKeyring, Migration, Room, RoomModule } from "@onerouter/core";
import type { Registry } from "prom-client";
import { createDeliveryWorker, type DeliveryWorker } from "./delivery/worker";
import { EventStreamHub } from "./event-stream/hub";
import { webhookMigrations } from "./migrations";
import { WebhookEventRetention } from "./retention";
import { webhookRoutes } from "./routes";
import type { EventFeed } from "./transport/feed";
import { JetStreamFeed } from "./transport/jetstream-feed";
import { OutboxFeed } from "./transport/outbox-feed";

export { webhookMigrations } from "./migrations";
export { DeliveryWorker, createDeliveryWorker, webhookUserAgent } from "./delivery/worker";
export { EventStreamHub } from "./event-stream/hub";
export { WebhookEventRetention } from "./retention";
export { webhookRoutes } from "./routes";
export { newEndpointSecret, resealEndpointSecrets } from "./secrets";
export { signStandardWebhook } from "./signing";
export { fanOut, type DeliveryWaker, type FeedEvent } from "./transport/fanout";
export type { EventFeed } from "./transport/feed";
export { JetStreamFeed } from "./transport/jetstream-feed";
export { OutboxFeed } from "./transport/outbox-feed";

export interface WebhooksOptions {
  knex: Knex;
  // Opens endpoint signing secrets.
  masterKeys: MasterKeyring;
  config: Config;
  // Given in mesh mode: the feed takes events from JetStream, where core's
  // outbox relay publishes them. Without it the feed reads the outbox table.
  eventStream?: EventStream;
  logger: Logger;
  // Where delivery metrics are exported, when given.
  registry?: Registry;
}

export interface Webhooks {
  migrations: Migration[];
  worker: DeliveryWorker;
  // Tells this process's StreamEvents calls about new events.
  eventHub: EventStreamHub;
  start(): Promise<void>;
  // Takes no more events and drains the deliveries in flight.
  stop(): Promise<void>;
}

// The outbound webhooks room: a feed that fans events out into deliveries, the
// worker that delivers them, and the retention job that prunes its old events.
export function createWebhooks(options: WebhooksOptions): Webhooks {
  const { knex, config, eventStream, logger } = options;
  const worker = createDeliveryWorker({ knex, masterKeys: options.masterKeys, logger, config: config.webhookDelivery, registry: options.registry });
  const feed: EventFeed = eventStream ? new JetStreamFeed(knex, eventStream, logger) : new OutboxFeed(knex, logger);
  const retention = new WebhookEventRetention(knex, logger, { retentionDays: config.eventRetentionDays });
  const eventHub = new EventStreamHub(knex, logger);
  // Fanned-out events are owed to endpoints and announced to streams alike.
  const onFannedOut = {
    wake(endpointIds: readonly string[]) {
      worker.wake(endpointIds);
      eventHub.wake();
    },
  };
  return {
    migrations: webhookMigrations,
    worker,
    eventHub,
    async start() {
      worker.start();
      eventHub.start();
      await feed.start(onFannedOut);
      retention.start();
    },
    async stop() {
      await eventHub.stop();
      await feed.stop();
      await retention.stop();
      await worker.stop();
    },
  };
}

export interface WebhooksRoom extends Room {
  webhooks: Webhooks;
}

// WebhookService and the workers that deliver events to customer endpoints.
export const webhooksRoom: RoomModule<WebhooksOptions, WebhooksRoom> = {
  name: "webhooks",
  migrations: webhookMigrations,
  open(options) {
    const webhooks = createWebhooks(options);
    const { knex, masterKeys, config } = options;
    return {
      webhooks,
      routes: webhookRoutes({
        knex,
        masterKeys,
        allowedCidrs: config.webhookDelivery.allowedCidrs,
        eventRetentionDays: config.eventRetentionDays,
        worker: webhooks.worker,
        eventHub: webhooks.eventHub,
      }),
      start: () => webhooks.start(),
      // Open event streams end before the server waits for its requests to finish.
      stop: () => webhooks.eventHub.stop(),
      // Deliveries in flight finish before the database closes.
      close: () => webhooks.stop(),
    };
  },
};
