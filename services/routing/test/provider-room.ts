import { create, fromBinary, type DescService, type MessageInitShape } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { adminMigrations, createApiKey, createTenant, ensureDefaultTenant } from "@onerouter/admin";
import { RoutingProfileSchema } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { EventSchema, type Event } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import {
  createIdempotency,
  createLogger,
  createMetrics,
  idempotencyMigrations,
  loadConfig,
  MasterKeyring,
  newDataKey,
  openChangeNotices,
  outboxMigrations,
  startProcessLiveness,
  startServer,
  type Database,
  type Knex,
  type Logger,
  type RoomModule,
  type RunningServer,
} from "@onerouter/core";
import { createTestDatabase, type StorageEngine } from "@onerouter/core/testing";
import { inMemoryApi } from "@onerouter/gatekeeper/testing";
import { gatekeeperMigrations } from "@onerouter/gatekeeper";
import { sandboxRoom } from "@onerouter/sandbox";
import {
  CircuitBreakers,
  ConnectorRegistry,
  ProviderCallMetrics,
  ProviderAccountStore,
  ProviderOutbound,
  RoutingProfileStore,
  WebhookNonceStore,
  routingMigrations,
  type ProviderCategory,
  type ProviderRoom,
  type ProviderRoomDeps,
} from "../src/index";

// What a provider room's engine is built from, the parts the host shares
// with every room; the room registers its connectors on `connectors`.
export interface SharedEngineParts {
  knex: Knex;
  accounts: ProviderAccountStore;
  profiles: RoutingProfileStore;
  breakers: CircuitBreakers;
  connectors: ConnectorRegistry;
  logger: Logger;
  // Where the built-in sandbox listens, and where providers reach this room.
  sandboxUrl: string;
  publicUrl: () => string;
}

// One provider room (payments or messaging) alone on a real database, with
// the built-in sandbox room beside it: its RPCs are called in memory behind
// the gatekeeper, its HTTP routes (provider webhooks and callbacks) served on
// a random loopback port.
export interface ProviderRoomTestBed<Engine> {
  db: Database;
  engine: Engine;
  defaultTenantId: string;
  accounts: ProviderAccountStore;
  routing: RoutingProfileStore;
  providerOutbound: ProviderOutbound;
  // Where providers reach the room's HTTP routes.
  baseUrl: string;
  ensureSandboxDefaults(tenantId: string): Promise<void>;
  client<S extends DescService>(service: S, apiKey: string): Client<S>;
  createKey(environment?: Environment, tenantId?: string): Promise<{ id: string; secret: string }>;
  close(): Promise<void>;
}

export interface ProviderRoomTestOptions {
  // Accounts and routing profiles cached until a change notice, as the
  // product serves them.
  changeNotices?: boolean;
}

export async function startProviderRoomTestBed<Engine, EngineOptions>(
  engine: StorageEngine,
  room: RoomModule<ProviderRoomDeps<EngineOptions>, ProviderRoom<Engine>>,
  engineOptions: (parts: SharedEngineParts) => EngineOptions,
  // Settings as environment variables (breaker, provider timeout).
  env: Record<string, string> = {},
  options: ProviderRoomTestOptions = {},
): Promise<ProviderRoomTestBed<Engine>> {
  const logger = createLogger("silent");
  // Provider accounts in tests call emulators on loopback.
  const config = loadConfig({ LOG_LEVEL: "silent", ONEROUTER_PROVIDER_ALLOWED_CIDRS: "127.0.0.0/8,::1/128", ...env });
  const db = await createTestDatabase(engine);
  await db.migrate([...outboxMigrations, ...routingMigrations, ...idempotencyMigrations, ...adminMigrations, ...room.migrations, ...gatekeeperMigrations]);
  const { tenant } = await ensureDefaultTenant(db.knex);
  const notices = options.changeNotices ? await openChangeNotices(db) : undefined;
  const accounts = new ProviderAccountStore(db.knex, new MasterKeyring(newDataKey()), notices);
  const routing = new RoutingProfileStore(db.knex, notices);
  const metrics = createMetrics();
  const breakers = new CircuitBreakers({ failureThreshold: config.breaker.failures, cooldownMs: config.breaker.cooldownMs, registry: metrics.registry });
  const providerOutbound = new ProviderOutbound(config.providerCalls);
  // Lets a retry take over at once the requests of a process that died.
  const liveness = await startProcessLiveness(db, logger);
  let server: RunningServer | undefined;
  const publicUrl = () => server!.url;

  const sandbox = await sandboxRoom.open({ knex: db.knex, accounts, host: "127.0.0.1", defaultTenantId: tenant.id });
  const connectors = new ConnectorRegistry({
    outbound: providerOutbound,
    providerTimeoutMs: config.providerTimeoutMs,
    logger,
    metrics: new ProviderCallMetrics(metrics.registry),
  });
  const opened = await room.open({
    engine: engineOptions({ knex: db.knex, accounts, profiles: routing, breakers, connectors, logger, sandboxUrl: sandbox.url, publicUrl }),
    idempotency: createIdempotency(db.knex, { liveness }),
    webhookNonces: new WebhookNonceStore(db.knex),
  });
  server = await startServer({
    host: "127.0.0.1",
    port: 0,
    logger,
    metrics,
    maxRequestBytes: config.maxRequestBytes,
    shutdownGraceMs: config.shutdownGraceMs,
    interceptors: [],
    httpRoutes: opened.httpRoutes ?? [],
    readiness: () => db.ping(),
    routes: () => {},
  });
  await opened.start?.();
  const api = inMemoryApi(db.knex, (router) => opened.routes?.(router));

  return {
    db,
    engine: opened.engine,
    defaultTenantId: tenant.id,
    accounts,
    routing,
    providerOutbound,
    baseUrl: server.url,
    ensureSandboxDefaults: sandbox.ensureDefaults,
    client: (service, apiKey) => api.client(service, apiKey),
    async createKey(environment = Environment.TEST, tenantId = tenant.id) {
      const { row, secret } = await createApiKey(db.knex, { tenantId, environment, name: "test key", createdBy: "test" });
      return { id: row.id, secret };
    },
    async close() {
      await opened.stop?.();
      await server?.close();
      await opened.close?.();
      await sandbox.close?.();
      await liveness.close();
      await notices?.close();
      await db.close();
    },
  };
}

// What follows serves a room's test bed and the whole product's alike.

// A new tenant with a test and a live API key.
export async function newTestTenant(
  bed: Pick<ProviderRoomTestBed<unknown>, "db" | "createKey">,
  name: string,
): Promise<{ id: string; testSecret: string; liveSecret: string }> {
  const tenant = await createTenant(bed.db.knex, { name, planId: "enterprise" });
  const test = await bed.createKey(Environment.TEST, tenant.id);
  const live = await bed.createKey(Environment.LIVE, tenant.id);
  return { id: tenant.id, testSecret: test.secret, liveSecret: live.secret };
}

// A provider account in the tenant's test environment, stored directly. Its
// base_url (an emulator the test runs) is allowed, as an operator would.
export async function addTestAccount(
  bed: Pick<ProviderRoomTestBed<unknown>, "accounts" | "providerOutbound">,
  tenantId: string,
  account: { category: ProviderCategory; provider: string; credentials: Record<string, string>; settings: Record<string, string> },
): Promise<{ id: string }> {
  for (const url of [account.settings.base_url, account.settings.webhook_url]) if (url) bed.providerOutbound.allowBaseUrls(url);
  const created = await bed.accounts.create({
    tenantId,
    environment: "test",
    displayName: `${account.provider} ${account.settings.base_url ?? "built-in"}`,
    enabled: true,
    ...account,
  });
  return { id: created.id };
}

export async function setRoutingProfile(
  bed: Pick<ProviderRoomTestBed<unknown>, "routing">,
  tenantId: string,
  category: ProviderCategory,
  profile: MessageInitShape<typeof RoutingProfileSchema>,
): Promise<void> {
  await bed.routing.put({ tenantId, environment: "test", category }, create(RoutingProfileSchema, profile));
}

// What a sandbox server holds under `path` (/v1/payments, /v1/messages) for
// one of its API keys, newest first.
export async function sandboxRecords(
  baseUrl: string,
  apiKey: string,
  path: string,
): Promise<{ id: string; attempt_id: string; status: string }[]> {
  const res = await fetch(new URL(path, baseUrl), { headers: { authorization: `Bearer ${apiKey}` } });
  if (!res.ok) throw new Error(`the sandbox answered ${res.status}`);
  return ((await res.json()) as { data: { id: string; attempt_id: string; status: string }[] }).data;
}

// Every event in the outbox, oldest first.
export async function outboxEvents(bed: Pick<ProviderRoomTestBed<unknown>, "db">): Promise<Event[]> {
  const rows = (await bed.db.knex("outbox_events").orderBy([{ column: "created_at" }, { column: "id" }])) as { payload: Uint8Array }[];
  return rows.map((r) => fromBinary(EventSchema, r.payload));
}
