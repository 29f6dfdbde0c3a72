import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import type { ConnectRouter } from "@connectrpc/connect";
import { adminMigrations, adminRoutes, ensureDefaultTenant } from "@onerouter/admin";
import { Category } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { CircuitBreakers, ProviderAccountStore, ProviderOutbound, RoutingProfileStore, WebhookNonceStore, routingMigrations } from "@onerouter/routing";
import { connectEventStream, OutboxRelay, createErrorInterceptor, createIdempotency, createLogger, createMetrics, idempotencyMigrations, lockDataFolder, openDatabase, outboxMigrations, startProcessLiveness, startServer, type Config, type Database, type HttpRoute, type Logger, type MasterKeyring, type Migration, type RunningServer } from "@onerouter/core";
import { startSandboxProvider } from "@onerouter/sandbox";
import { ApiKeyAuthenticator, TokenBucketLimiter, createGatekeeperInterceptor } from "@onerouter/gatekeeper";
import {
  MessagingEngine,
  ensureMessagingSandboxDefaults,
  messagingCallbackRoutes,
  messagingConnectors,
  messagingMigrations,
  messagingRoutes,
} from "@onerouter/messaging";
import {
  PaymentEngine,
  ensureSandboxDefaults,
  inboundPaymentWebhookRoutes,
  paymentConnectors,
  paymentRoutes,
  paymentsMigrations,
} from "@onerouter/payments";
import { createWebhooks, webhookMigrations, webhookRoutes, type Webhooks } from "@onerouter/webhooks";
import { localAdminRoute } from "./local-admin";
import { resolveMasterKeys } from "./master-key";
import { operations } from "./operations";

// Every room's migrations, applied in name order.
export const allMigrations: Migration[] = [...adminMigrations, ...outboxMigrations, ...routingMigrations, ...idempotencyMigrations, ...paymentsMigrations, ...messagingMigrations, ...webhookMigrations];

export function openConfiguredDatabase(config: Config): Database {
  return openDatabase({ databaseUrl: config.databaseUrl, pgliteDir: path.join(config.dataDir, "pglite") });
}

export interface OneRouter {
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
  payments: PaymentEngine;
  messaging: MessagingEngine;
  webhooks: Webhooks;
  // Gives a tenant's test environment its sandbox accounts in each category it has no account in yet.
  ensureSandboxDefaults(tenantId: string): Promise<void>;
  close(): Promise<void>;
}

export async function startOneRouter(config: Config, logger = createLogger(config.logLevel)): Promise<OneRouter> {
  // One process per embedded data folder: a second one would lose what it writes.
  const lock = config.databaseUrl ? undefined : lockDataFolder(config.dataDir, "server");
  try {
    const app = await startLocked(config, logger);
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

async function startLocked(config: Config, logger: Logger): Promise<OneRouter> {
  const embedded = !config.databaseUrl;
  const db = openConfiguredDatabase(config);
  const applied = await db.migrate(allMigrations);
  if (applied.length > 0) logger.info({ applied }, "migrations applied");
  const { tenant, created } = await ensureDefaultTenant(db.knex);
  const masterKeys = resolveMasterKeys(config);
  const accounts = new ProviderAccountStore(db.knex, masterKeys);
  const routing = new RoutingProfileStore(db.knex);

  const metrics = createMetrics();
  const breakers = new CircuitBreakers({
    failureThreshold: config.breaker.failures,
    cooldownMs: config.breaker.cooldownMs,
    registry: metrics.registry,
  });
  // The built-in sandbox provider runs in this process, on loopback.
  const sandbox = await startSandboxProvider({ host: "127.0.0.1", port: config.sandboxPort });
  // Both known once the server listens: the in-process sandbox posts to the
  // loopback URL; providers outside reach the public one.
  let loopbackUrl: string | undefined;
  const publicUrl = () => config.publicUrl ?? loopbackUrl!;
  const providerOutbound = new ProviderOutbound(config.providerCalls);
  const payments = new PaymentEngine({
    knex: db.knex,
    accounts,
    profiles: routing,
    breakers,
    connectors: paymentConnectors,
    providerTimeoutMs: config.providerTimeoutMs,
    builtInSandbox: { baseUrl: sandbox.url, webhookBaseUrl: () => loopbackUrl },
    outbound: providerOutbound,
    logger,
  });
  // Lets a retry take over at once the requests of a process that died.
  const liveness = await startProcessLiveness(db, logger);
  const idempotency = createIdempotency(db.knex, { liveness });
  const messaging = new MessagingEngine({
    knex: db.knex,
    accounts,
    profiles: routing,
    breakers,
    connectors: messagingConnectors,
    providerTimeoutMs: config.providerTimeoutMs,
    callbackBaseUrl: publicUrl,
    builtInSandbox: { baseUrl: sandbox.url },
    outbound: providerOutbound,
    logger,
  });
  const sandboxDefaults = async (tenantId: string) => {
    await ensureSandboxDefaults(db.knex, accounts, tenantId);
    await ensureMessagingSandboxDefaults(db.knex, accounts, tenantId);
  };
  await sandboxDefaults(tenant.id);

  // With NATS_URL, events travel outbox → relay → JetStream → dispatcher; without, the dispatcher reads the outbox.
  const eventStream = config.natsUrl ? await connectEventStream(config.natsUrl) : undefined;
  const relay = eventStream && new OutboxRelay(db.knex, eventStream, logger);
  const webhooks = createWebhooks({ knex: db.knex, masterKeys, config, eventStream, logger });

  const authenticator = new ApiKeyAuthenticator(db.knex, {
    ttlMs: config.authFailures.unknownKeyCacheMs,
    maxSize: config.authFailures.unknownKeyCacheSize,
  });
  const limiter = new TokenBucketLimiter(config.rateLimit.requestsPerSecond, config.rateLimit.burst);
  const failures = new TokenBucketLimiter(config.authFailures.perMinute / 60, config.authFailures.burst);
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
  const webhookNonces = new WebhookNonceStore(db.knex);
  httpRoutes.push(...inboundPaymentWebhookRoutes(payments, webhookNonces), ...messagingCallbackRoutes(messaging, webhookNonces));

  const server = await startServer({
    host: config.host,
    port: config.port,
    logger,
    metrics,
    maxRequestBytes: config.maxRequestBytes,
    shutdownGraceMs: config.shutdownGraceMs,
    trustedProxyCidrs: config.trustedProxyCidrs,
    corsOrigins: config.corsOrigins,
    interceptors: [createErrorInterceptor(logger), createGatekeeperInterceptor({ authenticator, limiter, failures })],
    httpRoutes,
    readiness: async () => {
      await db.ping();
      await eventStream?.ping();
    },
    routes: (router: ConnectRouter) => {
      adminRoutes({
        knex: db.knex,
        accounts,
        routing,
        providers: [...payments.providerDescriptors(), ...messaging.providerDescriptors()],
        publicBaseUrl: publicUrl,
        circuitState: (accountId) => breakers.state(accountId),
        outbound: providerOutbound,
        defaultFees: (category) =>
          category === Category.PAYMENTS ? [...payments.defaultFees] : category === Category.MESSAGING ? [...messaging.defaultFees] : [],
      })(router);
      paymentRoutes(payments, idempotency)(router);
      messagingRoutes(messaging, idempotency)(router);
      webhookRoutes({
        knex: db.knex,
        masterKeys,
        allowedCidrs: config.webhookDelivery.allowedCidrs,
        eventRetentionDays: config.eventRetentionDays,
        worker: webhooks.worker,
      })(router);
    },
  });

  const reachableHost = ["0.0.0.0", "::"].includes(config.host) ? "127.0.0.1" : config.host;
  loopbackUrl = `http://${reachableHost.includes(":") ? `[${reachableHost}]` : reachableHost}:${server.port}`;
  const resolver = payments.startResolver();
  relay?.start();
  await webhooks.start();
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
  logger.info({ url: server.url, storage: db.engine }, "OneRouter is listening");
  if (created) {
    logger.info(
      { tenant: tenant.id },
      "created the default tenant; get an API key with: npx onerouter keys create --env test",
    );
  }

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
    payments,
    messaging,
    webhooks,
    ensureSandboxDefaults: sandboxDefaults,
    async close() {
      clearInterval(purge);
      await resolver.stop();
      await server.close();
      // Deliveries in flight finish before the database closes.
      await webhooks.stop();
      await relay?.stop();
      await eventStream?.close();
      await sandbox.close();
      await liveness.close();
      await db.close();
      if (embedded && existsSync(runFile)) {
        const current = JSON.parse(readFileSync(runFile, "utf8")) as { pid: number };
        if (current.pid === process.pid) writeFileSync(runFile, "{}");
      }
    },
  };
}
