import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import type { ConnectRouter } from "@connectrpc/connect";
import { adminRoutes, ensureDefaultTenant } from "@onerouter/admin";
import { Category } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import {
  CircuitBreakers,
  connectEventStream,
  coreMigrations,
  createErrorInterceptor,
  createIdempotency,
  createLogger,
  createMetrics,
  idempotencyMigrations,
  openDatabase,
  ProviderAccountStore,
  ProviderOutbound,
  RoutingProfileStore,
  sharedMigrations,
  startServer,
  type Config,
  type Database,
  type HttpRoute,
  type Logger,
  type Migration,
  type RunningServer,
} from "@onerouter/core";
import { startSandboxProvider } from "@onerouter/emulators/sandbox/index";
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
import { createWebhooks, webhookMigrations, type Webhooks } from "@onerouter/webhooks";
import { webhookRoutes } from "@onerouter/webhooks/routes";
import { localAdminRoute } from "./local-admin";

// Every room's migrations, applied in name order.
export const allMigrations: Migration[] = [...coreMigrations, ...sharedMigrations, ...idempotencyMigrations, ...paymentsMigrations, ...messagingMigrations, ...webhookMigrations];

// Embedded mode keeps its master key in the data folder so a newcomer needs no
// setup; mesh mode must be given one (config validation insists).
export function resolveMasterKey(config: Config): Buffer {
  if (config.masterKey) return config.masterKey;
  const file = path.join(config.dataDir, "master.key");
  if (!existsSync(file)) {
    writeFileSync(file, randomBytes(32).toString("base64"), { mode: 0o600 });
  }
  const key = Buffer.from(readFileSync(file, "utf8").trim(), "base64");
  if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte base64 key`);
  return key;
}

export function openConfiguredDatabase(config: Config): Database {
  return openDatabase({ databaseUrl: config.databaseUrl, pgliteDir: path.join(config.dataDir, "pglite") });
}

export interface OneRouter {
  config: Config;
  db: Database;
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
  const embedded = !config.databaseUrl;
  if (embedded) mkdirSync(config.dataDir, { recursive: true });
  const db = openConfiguredDatabase(config);
  const applied = await db.migrate(allMigrations);
  if (applied.length > 0) logger.info({ applied }, "migrations applied");
  const { tenant, created } = await ensureDefaultTenant(db.knex);
  const masterKey = resolveMasterKey(config);
  const accounts = new ProviderAccountStore(db.knex, masterKey);
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
  const idempotency = createIdempotency(db.knex);
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

  // With NATS_URL, events travel outbox → JetStream → dispatcher; without, the dispatcher reads the outbox.
  const eventStream = config.natsUrl ? await connectEventStream(config.natsUrl) : undefined;
  const webhooks = createWebhooks({ knex: db.knex, masterKey, config, eventStream, logger });

  const authenticator = new ApiKeyAuthenticator(db.knex);
  const limiter = new TokenBucketLimiter(config.rateLimit.requestsPerSecond, config.rateLimit.burst);
  const httpRoutes: HttpRoute[] = [];
  const localToken = randomBytes(24).toString("base64url");
  if (embedded) httpRoutes.push(localAdminRoute(db.knex, tenant.id, localToken));
  httpRoutes.push(...inboundPaymentWebhookRoutes(payments), ...messagingCallbackRoutes(messaging));

  const server = await startServer({
    host: config.host,
    port: config.port,
    logger,
    metrics,
    maxRequestBytes: config.maxRequestBytes,
    shutdownGraceMs: config.shutdownGraceMs,
    interceptors: [createErrorInterceptor(logger), createGatekeeperInterceptor({ authenticator, limiter })],
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
        masterKey,
        allowedCidrs: config.webhookDelivery.allowedCidrs,
        eventRetentionDays: config.eventRetentionDays,
        worker: webhooks.worker,
      })(router);
    },
  });

  const reachableHost = ["0.0.0.0", "::"].includes(config.host) ? "127.0.0.1" : config.host;
  loopbackUrl = `http://${reachableHost.includes(":") ? `[${reachableHost}]` : reachableHost}:${server.port}`;
  const resolver = payments.startResolver();
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
      await eventStream?.close();
      await sandbox.close();
      await db.close();
      if (embedded && existsSync(runFile)) {
        const current = JSON.parse(readFileSync(runFile, "utf8")) as { pid: number };
        if (current.pid === process.pid) writeFileSync(runFile, "{}");
      }
    },
  };
}
