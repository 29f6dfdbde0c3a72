import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import type { ConnectRouter } from "@connectrpc/connect";
import { adminRoutes, ensureDefaultTenant } from "@onerouter/admin";
import { CircuitState } from "@onerouter/client/gen/onerouter/admin/v1/provider_accounts_pb";
import { MessagingService } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { PaymentService } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { WebhookService } from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import {
  coreMigrations,
  createErrorInterceptor,
  createLogger,
  createMetrics,
  openDatabase,
  ProviderAccountStore,
  RoutingProfileStore,
  servicePartially,
  sharedMigrations,
  startServer,
  type Config,
  type Database,
  type HttpRoute,
  type Logger,
  type Migration,
  type ProviderDescriptor,
  type RunningServer,
} from "@onerouter/core";
import { ApiKeyAuthenticator, TokenBucketLimiter, createGatekeeperInterceptor } from "@onerouter/gatekeeper";
import { sandboxConnector } from "@onerouter/payments/connectors/sandbox/index";
import { localAdminRoute } from "./local-admin";

// Every room's migrations, applied in name order.
export const allMigrations: Migration[] = [...coreMigrations, ...sharedMigrations];

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
  close(): Promise<void>;
}

export async function startOneRouter(config: Config, logger = createLogger(config.logLevel)): Promise<OneRouter> {
  const embedded = !config.databaseUrl;
  if (embedded) mkdirSync(config.dataDir, { recursive: true });
  const db = openConfiguredDatabase(config);
  const applied = await db.migrate(allMigrations);
  if (applied.length > 0) logger.info({ applied }, "migrations applied");
  const { tenant, created } = await ensureDefaultTenant(db.knex);
  const accounts = new ProviderAccountStore(db.knex, resolveMasterKey(config));
  const routing = new RoutingProfileStore(db.knex);
  // The built-in sandbox, until the payments engine registers its connectors.
  const providers: ProviderDescriptor[] = [sandboxConnector].map((connector) => ({
    name: connector.name,
    category: "payments",
    credentialKeys: connector.credentialKeys,
    testCredentials: (ctx) => connector.testCredentials(ctx),
  }));

  const metrics = createMetrics();
  const authenticator = new ApiKeyAuthenticator(db.knex);
  const limiter = new TokenBucketLimiter(config.rateLimit.requestsPerSecond, config.rateLimit.burst);
  const httpRoutes: HttpRoute[] = [];
  const localToken = randomBytes(24).toString("base64url");
  if (embedded) httpRoutes.push(localAdminRoute(db.knex, tenant.id, localToken));

  const server = await startServer({
    host: config.host,
    port: config.port,
    logger,
    metrics,
    maxRequestBytes: config.maxRequestBytes,
    shutdownGraceMs: config.shutdownGraceMs,
    interceptors: [createErrorInterceptor(logger), createGatekeeperInterceptor({ authenticator, limiter })],
    httpRoutes,
    readiness: () => db.ping(),
    routes: (router: ConnectRouter) => {
      adminRoutes({
        knex: db.knex,
        accounts,
        routing,
        providers,
        publicBaseUrl: config.publicUrl,
        circuitState: () => CircuitState.CLOSED,
        defaultFees: () => [],
      })(router);
      servicePartially(router, PaymentService, {});
      servicePartially(router, MessagingService, {});
      servicePartially(router, WebhookService, {});
    },
  });

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
    async close() {
      await server.close();
      await db.close();
      if (embedded && existsSync(runFile)) {
        const current = JSON.parse(readFileSync(runFile, "utf8")) as { pid: number };
        if (current.pid === process.pid) writeFileSync(runFile, "{}");
      }
    },
  };
}
