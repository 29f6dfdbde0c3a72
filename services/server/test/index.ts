import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { create, fromBinary, type DescService, type MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { createApiKey, createTenant } from "@onerouter/admin";
import { ErrorInfoSchema } from "@onerouter/client/gen/google/rpc/error_details_pb";
import { RoutingProfileSchema } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { EventSchema, type Event } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { createLogger, loadConfig, type Config } from "@onerouter/core";
import { type ProviderCategory } from "@onerouter/routing";
import { createTestDatabaseUrl, type StorageEngine } from "@onerouter/core/testing";
import { startOneRouter, type OneRouter } from "../src/app";

// The whole product on a random loopback port, for full-stack tests.
export interface TestOneRouter extends OneRouter {
  baseUrl: string;
  createKey(environment?: Environment, tenantId?: string): Promise<{ id: string; secret: string }>;
}

export async function startTestOneRouter(
  options: { engine?: StorageEngine; env?: Record<string, string> } = {},
): Promise<TestOneRouter> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "onerouter-test-"));
  const env: Record<string, string> = {
    PORT: "0",
    HOST: "127.0.0.1",
    ONEROUTER_DATA_DIR: dataDir,
    LOG_LEVEL: "silent",
    // Provider accounts in tests call emulators on loopback.
    ONEROUTER_PROVIDER_ALLOWED_CIDRS: "127.0.0.0/8,::1/128",
    ...options.env,
  };
  if (options.engine === "postgres") {
    env.DATABASE_URL = await createTestDatabaseUrl();
    env.ONEROUTER_MASTER_KEY ??= Buffer.alloc(32, 7).toString("base64");
  }
  const config: Config = loadConfig(env);
  const app = await startOneRouter(config, createLogger("silent"));
  return {
    ...app,
    baseUrl: `http://127.0.0.1:${app.server.port}`,
    async createKey(environment = Environment.TEST, tenantId = app.defaultTenantId) {
      const { row, secret } = await createApiKey(app.db.knex, {
        tenantId,
        environment,
        name: "test key",
        createdBy: "test",
      });
      return { id: row.id, secret };
    },
    async close() {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// A client of `service` on the server at `baseUrl`, calling with the API key `secret`.
export function apiClient<S extends DescService>(server: { baseUrl: string }, service: S, secret: string): Client<S> {
  return createClient(
    service,
    createConnectTransport({
      baseUrl: server.baseUrl,
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${secret}`);
          return next(req);
        },
      ],
    }),
  );
}

// A new tenant with a test and a live API key.
export async function newTestTenant(app: TestOneRouter, name: string): Promise<{ id: string; testSecret: string; liveSecret: string }> {
  const tenant = await createTenant(app.db.knex, { name, ownerEmail: `${name.toLowerCase().replace(/\W/g, "")}@example.com` });
  const test = await app.createKey(Environment.TEST, tenant.id);
  const live = await app.createKey(Environment.LIVE, tenant.id);
  return { id: tenant.id, testSecret: test.secret, liveSecret: live.secret };
}

// A provider account in the tenant's test environment, stored directly. Its
// base_url (an emulator the test runs) is allowed, as an operator would.
export async function addTestAccount(
  app: TestOneRouter,
  tenantId: string,
  account: { category: ProviderCategory; provider: string; credentials: Record<string, string>; settings: Record<string, string> },
): Promise<{ id: string }> {
  for (const url of [account.settings.base_url, account.settings.webhook_url]) if (url) app.providerOutbound.allowBaseUrls(url);
  const created = await app.accounts.create({
    tenantId,
    environment: "test",
    displayName: `${account.provider} ${account.settings.base_url ?? "built-in"}`,
    enabled: true,
    ...account,
  });
  return { id: created.id };
}

export async function setRoutingProfile(
  app: TestOneRouter,
  tenantId: string,
  category: ProviderCategory,
  profile: MessageInitShape<typeof RoutingProfileSchema>,
): Promise<void> {
  await app.routing.put({ tenantId, environment: "test", category }, create(RoutingProfileSchema, profile));
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
export async function outboxEvents(app: TestOneRouter): Promise<Event[]> {
  const rows = (await app.db.knex("outbox_events").orderBy([{ column: "created_at" }, { column: "id" }])) as { payload: Uint8Array }[];
  return rows.map((r) => fromBinary(EventSchema, r.payload));
}

// What a call that must fail answered: its code, ErrorInfo reason and
// metadata (with the offending request field, if any), and message.
export async function failure(promise: Promise<unknown>) {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (!err) throw new Error("expected the call to fail");
  const info = err.findDetails(ErrorInfoSchema)[0];
  return {
    code: err.code,
    reason: info?.reason,
    field: info?.metadata.field,
    metadata: info?.metadata ?? {},
    message: err.rawMessage,
  };
}
