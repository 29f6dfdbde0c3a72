import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { adminRoom, csvDownloadRoute, ensureDefaultTenant, TenantMailer, tenantHasMembers } from "@onerouter/admin";
import { AnalyticsService } from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";
import { MessagingService } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { CircuitBreakers, CircuitEvents, ConnectorRegistry, ProviderAccountStore, ProviderCallMetrics, ProviderHealthStore, ProviderOutbound, PublishedPrices, RoutingProfileStore, WebhookNonceStore } from "@onerouter/routing";
import { ConfigError, connectEventStream, OutboxRelay, OutboxRetention, PGliteAutovacuum, createErrorInterceptor, createIdempotency, createLogger, createMetrics, exportOutboxLag, inProcessClientOfRequest, inProcessTenantClients, lockDataFolder, openChangeNotices, startProcessLiveness, startServer, startTracing, type Config, type Database, type HttpRoute, type Logger, type MasterKeyring, type Room, type RunningServer } from "@onerouter/core";
import { consoleRoute, docsRoute } from "@onerouter/console";
import { sandboxRoom } from "@onerouter/sandbox";
import { failureRate, gatekeeperEnvoyRoom, gatekeeperRoom, identityHeaderNames, meshServiceInterceptors, SharedRateStore } from "@onerouter/gatekeeper";
import { MessagingEngine, messagingConnectors, messagingRoom } from "@onerouter/messaging";
import { PaymentEngine, paymentConnectors, paymentsRoom } from "@onerouter/payments";
import { createWebhooks, EventStreamHub, webhookRoutes, webhooksRoom, type Webhooks } from "@onerouter/webhooks";
import { localAdminRoute } from "./local-admin";
import { meshTenantClients } from "./mesh-clients";
import { resolveMasterKeys } from "./master-key";
import { operations } from "./operations";
import { openConfiguredDatabase } from "./database";
import { allMigrations } from "./migrations";

// What one process can run: the API services, and the workers that move
// events (the webhook dispatcher delivers them, the outbox relay publishes
// them to NATS). `start` runs them all; in the mesh each runs where it is
// named (`serve <service>`).
export type ServiceName = "payments" | "messaging" | "webhooks" | "admin" | "gatekeeper" | "webhook-dispatcher" | "outbox-relay";
export const serviceNames: readonly ServiceName[] = ["payments", "messaging", "webhooks", "admin", "gatekeeper", "webhook-dispatcher", "outbox-relay"];
const workerNames: readonly ServiceName[] = ["webhook-dispatcher", "outbox-relay"];

export { openConfiguredDatabase, pgliteTemplateFile } from "./database";
export { allMigrations } from "./migrations";

// A server running some of the services; a room it does not host is undefined.
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
  const app = await startServices(config, serviceNames, { mesh: false }, logger);
  const { payments, messaging, webhooks, ensureSandboxDefaults } = app;
  if (!payments || !messaging || !webhooks || !ensureSandboxDefaults) {
    await app.close();
    throw new Error("a room of the embedded product did not open");
  }
  return { ...app, payments, messaging, webhooks, ensureSandboxDefaults };
}

export interface Hosting {
  // Behind Envoy: a caller's identity comes from the gatekeeper in Envoy's
  // headers, the schema from `onerouter migrate`, other services over the
  // network. Otherwise the embedded product: the gatekeeper's interceptor
  // checks every call, and the server migrates the database itself.
  mesh: boolean;
}

// Starts a server running the chosen services on one port, with the
// infrastructure they share (database, provider kernel, event stream).
export async function startServices(
  config: Config,
  services: readonly ServiceName[],
  hosting: Hosting,
  logger = createLogger(config.logLevel),
): Promise<RunningRooms> {
  // One process per embedded data folder: a second one would lose what it writes.
  const lock = config.databaseUrl ? undefined : lockDataFolder(config.dataDir, "server");
  try {
    const app = await startLocked(config, new Set(services), hosting, logger);
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

// Envoy calls the gatekeeper's Check and ShouldRateLimit itself, before
// there is any identity or mesh secret to carry.
const envoyFrontServices = new Set(["envoy.service.auth.v3.Authorization", "envoy.service.ratelimit.v3.RateLimitService"]);

function exceptEnvoyFront(guard: Interceptor): Interceptor {
  return (next) => {
    const guarded = guard(next);
    return (req) => (envoyFrontServices.has(req.service.typeName) ? next(req) : guarded(req));
  };
}

// How often a mesh process looks again for the schema it needs.
const schemaPollMs = 2000;

// In the mesh the migrations Job brings the schema up to date; a service
// waits for it rather than racing other replicas to migrate.
async function untilSchemaCurrent(db: Database, logger: Logger): Promise<void> {
  let reported = "";
  for (;;) {
    let state: string;
    try {
      const pending = await db.pendingMigrations(allMigrations);
      if (pending.length === 0) return;
      state = `${pending.length} migrations pending; waiting for \`onerouter migrate\``;
    } catch (err) {
      state = `database not usable yet: ${(err as Error).message}`;
    }
    if (state !== reported) logger.warn(state);
    reported = state;
    await new Promise((resolve) => setTimeout(resolve, schemaPollMs));
  }
}

async function startLocked(config: Config, services: ReadonlySet<ServiceName>, { mesh }: Hosting, logger: Logger): Promise<RunningRooms> {
  const embedded = !config.databaseUrl;
  const hosts = (service: ServiceName) => services.has(service);
  // Behind Envoy, what a service believes of a caller comes with the mesh secret.
  const meshSecret = config.meshSecret;
  if (mesh && !meshSecret && serviceNames.some((name) => hosts(name) && !workerNames.includes(name))) {
    throw new ConfigError("ONEROUTER_MESH_SECRET", "is required to serve behind Envoy: at least 32 characters (try: openssl rand -hex 32)");
  }
  const db = openConfiguredDatabase(config);
  if (mesh && !embedded) {
    await untilSchemaCurrent(db, logger);
  } else {
    const applied = await db.migrate(allMigrations);
    if (applied.length > 0) logger.info({ applied }, "migrations applied");
  }
  const { tenant, created } = await ensureDefaultTenant(db.knex);
  const masterKeys = resolveMasterKeys(config);
  // What the routing caches is dropped when any process changes it.
  const changeNotices = await openChangeNotices(db, logger);
  const accounts = new ProviderAccountStore(db.knex, masterKeys, changeNotices);
  const routing = new RoutingProfileStore(db.knex, changeNotices);

  const metrics = createMetrics();
  // Traces for the process (exported only where the OTEL_* environment says).
  const tracing = startTracing();
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
  const idempotency = createIdempotency(db.knex, { liveness, registry: metrics.registry });
  const webhookNonces = new WebhookNonceStore(db.knex);
  // With NATS_URL, events travel outbox → relay → JetStream → dispatcher; without, the dispatcher reads the outbox.
  const eventStream =
    config.natsUrl && (hosts("outbox-relay") || hosts("webhook-dispatcher"))
      ? await connectEventStream(config.natsUrl, { replicas: config.natsStreamReplicas })
      : undefined;
  const relay = eventStream && hosts("outbox-relay") ? new OutboxRelay(db.knex, eventStream, logger) : undefined;
  // A PGlite database has no autovacuum daemon of its own.
  const autovacuum = db.engine === "pglite" ? new PGliteAutovacuum(db.knex, logger) : undefined;
  const outboxRetention = hosts("outbox-relay")
    ? new OutboxRetention(db.knex, logger, { retentionDays: config.eventRetentionDays, requirePublished: eventStream !== undefined })
    : undefined;
  // Outbox lag is reported where events leave the outbox: the relay, or embedded mode's dispatcher.
  if (relay) exportOutboxLag(metrics.registry, db.knex, "published_at", logger);
  else if (!config.natsUrl && hosts("webhook-dispatcher")) exportOutboxLag(metrics.registry, db.knex, "fanned_out_at", logger);

  // Each room opens with what it needs, from the infrastructure and the rooms opened before it.
  const opened: Room[] = [];
  async function open<Opened extends Room>(hosted: boolean, opening: () => Promise<Opened> | Opened): Promise<Opened | undefined> {
    if (!hosted) return undefined;
    const room = await opening();
    opened.push(room);
    return room;
  }
  // The built-in sandbox provider runs in each process that calls providers, on loopback.
  const sandbox = await open(hosts("payments") || hosts("messaging") || hosts("admin"), () =>
    sandboxRoom.open({ knex: db.knex, accounts, host: "127.0.0.1", port: config.sandboxPort, defaultTenantId: tenant.id }),
  );
  // Every provider's connector, under the outbound rules; admin manages accounts for all of them.
  const connectors = new ConnectorRegistry({
    outbound: providerOutbound,
    providerTimeoutMs: config.providerTimeoutMs,
    logger,
    metrics: new ProviderCallMetrics(metrics.registry),
  });
  const paymentCalls = connectors.register("payments", paymentConnectors(sandbox && { baseUrl: sandbox.url, webhookBaseUrl: () => loopbackUrl }));
  const messagingCalls = connectors.register("messaging", messagingConnectors(sandbox && { baseUrl: sandbox.url }));
  const payments = await open(hosts("payments"), () =>
    paymentsRoom.open({
      engine: { knex: db.knex, accounts, profiles: routing, breakers, connectors: paymentCalls, logger },
      idempotency,
      webhookNonces,
      workers: providerWorkers,
    }),
  );
  const messaging = await open(hosts("messaging"), () =>
    messagingRoom.open({
      engine: { knex: db.knex, accounts, profiles: routing, breakers, connectors: messagingCalls, publishedPrices, callbackBaseUrl: publicUrl, logger },
      idempotency,
      webhookNonces,
      workers: providerWorkers,
    }),
  );
  // OneRouter's own emails to tenants' people go through MessagingService:
  // in this process when it runs here, else over the network in the mesh.
  const messagingClients = messaging
    ? inProcessTenantClients(MessagingService, messaging.routes!, logger)
    : mesh && config.messagingUrl && meshSecret
      ? meshTenantClients(MessagingService, config.messagingUrl, meshSecret)
      : undefined;
  const mailer = messagingClients && new TenantMailer(messagingClients, accounts);
  const admin = await open(hosts("admin"), () =>
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
  // The dispatcher takes events (from JetStream, or the outbox) into deliveries
  // and delivers them; WebhookService wakes it when it runs in this process.
  const webhooks = hosts("webhook-dispatcher") ? createWebhooks({ knex: db.knex, masterKeys, config, eventStream, logger, registry: metrics.registry }) : undefined;
  await open(webhooks !== undefined, () => ({ start: () => webhooks!.start(), close: () => webhooks!.stop() }));
  await open(hosts("webhooks"), () => {
    // StreamEvents is told of new events by the dispatcher's fan-out when it
    // runs here; alone, the service's own hub looks for them.
    const ownHub = webhooks ? undefined : new EventStreamHub(db.knex, logger);
    const eventHub = webhooks?.eventHub ?? ownHub!;
    return {
      routes: webhookRoutes({
        knex: db.knex,
        masterKeys,
        allowedCidrs: config.webhookDelivery.allowedCidrs,
        eventRetentionDays: config.eventRetentionDays,
        worker: webhooks?.worker,
        eventHub,
      }),
      start: () => ownHub?.start(),
      // Open event streams end before the server waits for its requests to finish.
      stop: () => eventHub.stop(),
    };
  });
  // In process, the gatekeeper checks every call; in the mesh, it answers Envoy's Check and ShouldRateLimit.
  await open(hosts("gatekeeper") && !mesh, () => gatekeeperRoom.open({ knex: db.knex, config, logger, mailer, registry: metrics.registry, notices: changeNotices }));
  const envoyFront = await open(hosts("gatekeeper") && mesh, () =>
    gatekeeperEnvoyRoom.open({ knex: db.knex, config, logger, mailer, meshSecret: meshSecret!, registry: metrics.registry, notices: changeNotices }),
  );

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
  const interceptors = [
    createErrorInterceptor(logger),
    ...(mesh && meshSecret
      ? meshServiceInterceptors({ meshSecret, failures: new SharedRateStore(db.knex).failureCounter(failureRate(config)) }).map(exceptEnvoyFront)
      : []),
    ...opened.flatMap((room) => room.interceptors ?? []),
  ];
  const routes = (router: ConnectRouter) => {
    for (const room of opened) room.routes?.(router);
  };
  // CSV downloads: StreamCsvExport called as the HTTP request's own caller
  // (in the mesh, the identity Envoy set, believed only with the mesh secret).
  if (admin) httpRoutes.push(csvDownloadRoute(inProcessClientOfRequest(AnalyticsService, routes, interceptors), mesh ? identityHeaderNames : []));
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
      await envoyFront?.readiness();
    },
    healthNames: workerNames.filter(hosts),
    routes,
  });

  const reachableHost = ["0.0.0.0", "::"].includes(config.host) ? "127.0.0.1" : config.host;
  loopbackUrl = `http://${reachableHost.includes(":") ? `[${reachableHost}]` : reachableHost}:${server.port}`;
  relay?.start();
  for (const room of opened) await room.start?.();
  outboxRetention?.start();
  autovacuum?.start();
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
  const serving = mesh ? { services: [...services] } : {};
  logger.info({ url: server.url, storage: db.engine, ...serving, ...(admin ? { console: `${server.url}/console/` } : {}) }, "OneRouter is listening");
  if (created) {
    logger.info(
      { tenant: tenant.id },
      "created the default tenant; get an API key with: npx onerouter keys create --env test",
    );
  }
  if (!mesh && !(await tenantHasMembers(db.knex, tenant.id))) {
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
    webhooks,
    ensureSandboxDefaults: sandbox?.ensureDefaults,
    async close() {
      clearInterval(purge);
      for (const room of closing) await room.stop?.();
      await server.close();
      for (const room of closing) await room.close?.();
      await circuitEvents.drain();
      await outboxRetention?.stop();
      await autovacuum?.stop();
      await relay?.stop();
      await eventStream?.close();
      await liveness.close();
      await changeNotices.close();
      await db.close();
      await tracing.flush();
      if (embedded && existsSync(runFile)) {
        const current = JSON.parse(readFileSync(runFile, "utf8")) as { pid: number };
        if (current.pid === process.pid) writeFileSync(runFile, "{}");
      }
    },
  };
}
