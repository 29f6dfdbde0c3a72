import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import type { ConnectRouter } from "@connectrpc/connect";
import { adminRoom, csvDownloadRoute, ensureDefaultTenant, TenantMailer, tenantHasMembers } from "@onerouter/admin";
import { AnalyticsService } from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";
import { MessagingService } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { CircuitBreakers, CircuitEvents, ConnectorRegistry, ProviderAccountStore, ProviderHealthStore, ProviderOutbound, PublishedPrices, RoutingProfileStore, WebhookNonceStore, routingMigrations } from "@onerouter/routing";
import { connectEventStream, OutboxRelay, OutboxRetention, createErrorInterceptor, createIdempotency, createLogger, createMetrics, idempotencyMigrations, inProcessClientOfRequest, inProcessTenantClients, lockDataFolder, openDatabase, outboxMigrations, startProcessLiveness, startServer, type Config, type Database, type HttpRoute, type Logger, type MasterKeyring, type Migration, type Room, type RunningServer } from "@onerouter/core";
import { consoleRoute, docsRoute } from "@onerouter/console";
import { sandboxRoom } from "@onerouter/sandbox";
import { gatekeeperRoom } from "@onerouter/gatekeeper";
import { MessagingEngine, messagingConnectors, messagingRoom } from "@onerouter/messaging";
import { PaymentEngine, paymentConnectors, paymentsRoom } from "@onerouter/payments";
import { webhooksRoom, type Webhooks } from "@onerouter/webhooks";
import { localAdminRoute } from "./local-admin";
import { resolveMasterKeys } from "./master-key";
import { operations } from "./operations";

// The rooms one server can host, in the order they open and start their
// workers; they stop and close in reverse.
export type RoomName = "sandbox" | "payments" | "messaging" | "admin" | "webhooks" | "gatekeeper";
export const allRooms: readonly RoomName[] = ["sandbox", "payments", "messaging", "admin", "webhooks", "gatekeeper"];

// The infrastructure's migrations and every room's, applied in name order.
// A server migrates them all whatever rooms it hosts: they share one
// database, whose history knex checks against the full list.
export const allMigrations: Migration[] = [
  ...outboxMigrations,
  ...routingMigrations,
  ...idempotencyMigrations,
  ...[sandboxRoom, paymentsRoom, messagingRoom, adminRoom, webhooksRoom, gatekeeperRoom].flatMap((room) => room.migrations),
];

export function openConfiguredDatabase(config: Config): Database {
  return openDatabase({ databaseUrl: config.databaseUrl, pgliteDir: path.join(config.dataDir, "pglite") });
}

// A server hosting some of the rooms; a room it does not host is undefined.
export interface RunningRooms {
  config: Config;
  db: Database;
  masterKeys: MasterKeyring;
  server: RunningServer;
  logger: Logger;
  defaultTenantId: string;
  accounts: ProviderAccountStore;
  routing: RoutingProfileStore;
  // Where provider calls may go (base_url overrides, address ranges).
  providerOutbound: ProviderOutbound;
  // Where providers reach this server: ONEROUTER_PUBLIC_URL, else where it listens.
  publicUrl(): string;
  payments?: PaymentEngine;
  messaging?: MessagingEngine;
  webhooks?: Webhooks;
  // Gives a tenant's test environment its sandbox accounts in each category it has no account in yet.
  ensureSandboxDefaults?(tenantId: string): Promise<void>;
  close(): Promise<void>;
}

// The embedded product: every room on one server.
export interface OneRouter extends RunningRooms {
  payments: PaymentEngine;
  messaging: MessagingEngine;
  webhooks: Webhooks;
  ensureSandboxDefaults(tenantId: string): Promise<void>;
}

export async function startOneRouter(config: Config, logger = createLogger(config.logLevel)): Promise<OneRouter> {
  const app = await startRooms(config, allRooms, logger);
  const { payments, messaging, webhooks, ensureSandboxDefaults } = app;
  if (!payments || !messaging || !webhooks || !ensureSandboxDefaults) {
    await app.close();
    throw new Error("a room of the embedded product did not open");
  }
  return { ...app, payments, messaging, webhooks, ensureSandboxDefaults };
}

// Starts a server hosting the chosen rooms on one port, with the
// infrastructure they share (database, provider kernel, event stream).
export async function startRooms(config: Config, rooms: readonly RoomName[], logger = createLogger(config.logLevel)): Promise<RunningRooms> {
  // One process per embedded data folder: a second one would lose what it writes.
  const lock = config.databaseUrl ? undefined : lockDataFolder(config.dataDir, "server");
  try {
    const app = await startLocked(config, new Set(rooms), logger);
    return {
      ...app,
      async close() {
        await app.close();
        lock?.release();
      },
    };
  } catch (err) {
    lock?.release();
    throw err;
  }
}

async function startLocked(config: Config, rooms: ReadonlySet<RoomName>, logger: Logger): Promise<RunningRooms> {
  const embedded = !config.databaseUrl;
  const db = openConfiguredDatabase(config);
  const applied = await db.migrate(allMigrations);
  if (applied.length > 0) logger.info({ applied }, "migrations applied");
  const { tenant, created } = await ensureDefaultTenant(db.knex);
  const masterKeys = resolveMasterKeys(config);
  const accounts = new ProviderAccountStore(db.knex, masterKeys);
  const routing = new RoutingProfileStore(db.knex);

  const metrics = createMetrics();
  // Each transition of this process's breakers becomes a provider_account.circuit_* event.
  const circuitEvents = new CircuitEvents(db.knex, accounts, logger);
  const breakers = new CircuitBreakers({
    failureThreshold: config.breaker.failures,
    cooldownMs: config.breaker.cooldownMs,
    registry: metrics.registry,
    onTransition: (transition) => circuitEvents.emit(transition),
  });
  const publishedPrices = new PublishedPrices(db.knex);
  const providerWorkers = {
    probeIntervalMs: config.providerHealth.probeIntervalMs,
    degradedAfterMs: config.providerHealth.degradedAfterMs,
    priceSyncIntervalMs: config.priceSync.intervalMs,
    priceChangeThresholdPercent: config.priceSync.changeThresholdPercent,
  };
  // Both known once the server listens: the in-process sandbox posts to the
  // loopback URL; providers outside reach the public one.
  let loopbackUrl: string | undefined;
  const publicUrl = () => config.publicUrl ?? loopbackUrl!;
  const providerOutbound = new ProviderOutbound(config.providerCalls);
  // Lets a retry take over at once the requests of a process that died.
  const liveness = await startProcessLiveness(db, logger);
  const idempotency = createIdempotency(db.knex, { liveness });
  const webhookNonces = new WebhookNonceStore(db.knex);
  // With NATS_URL, events travel outbox → relay → JetStream → dispatcher; without, the dispatcher reads the outbox.
  const eventStream = config.natsUrl ? await connectEventStream(config.natsUrl) : undefined;
  const relay = eventStream && new OutboxRelay(db.knex, eventStream, logger);
  const outboxRetention = new OutboxRetention(db.knex, logger, {
    retentionDays: config.eventRetentionDays,
    requirePublished: eventStream !== undefined,
  });

  // Each room opens with what it needs, from the infrastructure and the rooms opened before it.
  const opened: Room[] = [];
  async function open<Opened extends Room>(name: RoomName, opening: () => Promise<Opened> | Opened): Promise<Opened | undefined> {
    if (!rooms.has(name)) return undefined;
    const room = await opening();
    opened.push(room);
    return room;
  }
  // The built-in sandbox provider runs in this process, on loopback.
  const sandbox = await open("sandbox", () =>
    sandboxRoom.open({ knex: db.knex, accounts, host: "127.0.0.1", port: config.sandboxPort, defaultTenantId: tenant.id }),
  );
  // Every provider's connector, under the outbound rules; admin manages accounts for all of them.
  const connectors = new ConnectorRegistry({ outbound: providerOutbound, providerTimeoutMs: config.providerTimeoutMs, logger });
  const paymentCalls = connectors.register("payments", paymentConnectors(sandbox && { baseUrl: sandbox.url, webhookBaseUrl: () => loopbackUrl }));
  const messagingCalls = connectors.register("messaging", messagingConnectors(sandbox && { baseUrl: sandbox.url }));
  const payments = await open("payments", () =>
    paymentsRoom.open({
      engine: { knex: db.knex, accounts, profiles: routing, breakers, connectors: paymentCalls, logger },
      idempotency,
      webhookNonces,
      workers: providerWorkers,
    }),
  );
  const messaging = await open("messaging", () =>
    messagingRoom.open({
      engine: { knex: db.knex, accounts, profiles: routing, breakers, connectors: messagingCalls, publishedPrices, callbackBaseUrl: publicUrl, logger },
      idempotency,
      webhookNonces,
      workers: providerWorkers,
    }),
  );
  // OneRouter's own emails to tenants' people go through the messaging room's client.
  const mailer = messaging && new TenantMailer(inProcessTenantClients(MessagingService, messaging.routes!, logger), accounts);
  const admin = await open("admin", () =>
    adminRoom.open({
      knex: db.knex,
      accounts,
      routing,
      connectors,
      breakers,
      health: new ProviderHealthStore(db.knex),
      prices: publishedPrices,
      publicBaseUrl: publicUrl,
      outbound: providerOutbound,
      mailer,
      sessionTtlHours: config.sessionTtlHours,
    }),
  );
  const webhooks = await open("webhooks", () => webhooksRoom.open({ knex: db.knex, masterKeys, config, eventStream, logger }));
  await open("gatekeeper", () => gatekeeperRoom.open({ knex: db.knex, config, logger, mailer }));

  const httpRoutes: HttpRoute[] = [];
  const localToken = randomBytes(24).toString("base64url");
  if (embedded) {
    const actions = operations({
      knex: db.knex,
      config,
      defaultTenantId: tenant.id,
      masterKeys,
      migrate: () => db.migrate(allMigrations),
    });
    httpRoutes.push(localAdminRoute(localToken, actions));
  }
  httpRoutes.push(...opened.flatMap((room) => room.httpRoutes ?? []));
  const interceptors = [createErrorInterceptor(logger), ...opened.flatMap((room) => room.interceptors ?? [])];
  const routes = (router: ConnectRouter) => {
    for (const room of opened) room.routes?.(router);
  };
  // CSV downloads: StreamCsvExport called as the HTTP request's own caller.
  if (admin) httpRoutes.push(csvDownloadRoute(inProcessClientOfRequest(AnalyticsService, routes, interceptors)));
  // The browser console, a static bundle calling this same API, comes with
  // the admin room: in the mesh, Envoy sends /console/ to the admin service.
  if (admin) httpRoutes.push(consoleRoute(), docsRoute());

  const server = await startServer({
    host: config.host,
    port: config.port,
    logger,
    metrics,
    maxRequestBytes: config.maxRequestBytes,
    shutdownGraceMs: config.shutdownGraceMs,
    trustedProxyCidrs: config.trustedProxyCidrs,
    corsOrigins: config.corsOrigins,
    interceptors,
    httpRoutes,
    readiness: async () => {
      await db.ping();
      await eventStream?.ping();
    },
    routes,
  });

  const reachableHost = ["0.0.0.0", "::"].includes(config.host) ? "127.0.0.1" : config.host;
  loopbackUrl = `http://${reachableHost.includes(":") ? `[${reachableHost}]` : reachableHost}:${server.port}`;
  relay?.start();
  for (const room of opened) await room.start?.();
  outboxRetention.start();
  // Idempotency answers are kept a day; expired ones are dropped hourly.
  const purge = setInterval(() => {
    idempotency.purgeExpired().catch((err: unknown) => logger.error({ err }, "purging idempotency keys failed"));
  }, 3600_000);
  purge.unref();

  const runFile = path.join(config.dataDir, "server.json");
  if (embedded) {
    writeFileSync(runFile, JSON.stringify({ pid: process.pid, port: server.port, localToken }));
    chmodSync(runFile, 0o600);
  }
  logger.info({ url: server.url, storage: db.engine, ...(admin ? { console: `${server.url}/console/` } : {}) }, "OneRouter is listening");
  if (created) {
    logger.info(
      { tenant: tenant.id },
      "created the default tenant; get an API key with: npx onerouter keys create --env test",
    );
  }
  if (!(await tenantHasMembers(db.knex, tenant.id))) {
    logger.info(
      { tenant: tenant.id },
      "the default tenant has no one who can sign in to the console yet; create its first owner with: npx onerouter members create --email you@example.com --role owner",
    );
  }

  const closing = [...opened].reverse();
  return {
    config,
    db,
    masterKeys,
    server,
    logger,
    defaultTenantId: tenant.id,
    accounts,
    routing,
    providerOutbound,
    publicUrl,
    payments: payments?.engine,
    messaging: messaging?.engine,
    webhooks: webhooks?.webhooks,
    ensureSandboxDefaults: sandbox?.ensureDefaults,
    async close() {
      clearInterval(purge);
      for (const room of closing) await room.stop?.();
      await server.close();
      for (const room of closing) await room.close?.();
      await circuitEvents.drain();
      await outboxRetention.stop();
      await relay?.stop();
      await eventStream?.close();
      await liveness.close();
      await db.close();
      if (embedded && existsSync(runFile)) {
        const current = JSON.parse(readFileSync(runFile, "utf8")) as { pid: number };
        if (current.pid === process.pid) writeFileSync(runFile, "{}");
      }
    },
  };
}
