import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { createApiKey } from "@onerouter/admin";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { createLogger, loadConfig, type Config } from "@onerouter/core";
import { createTestDatabaseUrl, type StorageEngine } from "@onerouter/core/testing";
import { startOneRouter, type OneRouter } from "../src/app";

export { cliPath, runCli, startCliServer, type CliServer } from "./cli";
export { type SqlTrace, statementKind, traceRequestSql } from "./sql-trace";

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
  return clientSending(server, service, { authorization: `Bearer ${secret}` });
}

// A client of `service` on the server at `baseUrl` whose every call sends `headers`.
function clientSending<S extends DescService>(server: { baseUrl: string }, service: S, headers: Record<string, string>): Client<S> {
  return createClient(
    service,
    createConnectTransport({
      baseUrl: server.baseUrl,
      interceptors: [
        (next) => (req) => {
          for (const [name, value] of Object.entries(headers)) req.header.set(name, value);
          return next(req);
        },
      ],
    }),
  );
}

const protoRoot = path.resolve(import.meta.dirname, "../../../proto");

// A grpc-js client of ApiKeyService on the server listening on `port`,
// built from the .proto at test time with proto-loader, so it shares no code
// with the server's generated types.
export function grpcApiKeyClient(port: number): grpc.Client {
  return grpcServiceClient(port, "onerouter/admin/v1/api_keys.proto", "onerouter.admin.v1.ApiKeyService");
}

// A grpc-js client of `service` (its full name) declared in `protoFile` (under
// proto/), the same way.
export function grpcServiceClient(port: number, protoFile: string, service: string): grpc.Client {
  const definition = protoLoader.loadSync(protoFile, {
    includeDirs: [protoRoot],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
  });
  let constructor: unknown = grpc.loadPackageDefinition(definition);
  for (const part of service.split(".")) constructor = (constructor as Record<string, unknown>)[part];
  return new (constructor as grpc.ServiceClientConstructor)(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

// Signs a member in over Connect JSON, as a browser would, and answers the
// session cookie to send back (name=value) and the Set-Cookie it came in.
export async function signIn(
  server: { baseUrl: string },
  credentials: { email: string; password: string; tenantId?: string },
): Promise<{ cookie: string; setCookie: string }> {
  const res = await fetch(`${server.baseUrl}/onerouter.admin.v1.SessionService/SignIn`, {
    method: "POST",
    headers: { "content-type": "application/json", "connect-protocol-version": "1", origin: server.baseUrl },
    body: JSON.stringify(credentials),
  });
  if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${await res.text()}`);
  const setCookie = res.headers.getSetCookie().find((c) => c.startsWith("onerouter_session="));
  if (!setCookie) throw new Error("sign-in set no session cookie");
  return { cookie: setCookie.split(";")[0]!, setCookie };
}

// A client of `service` calling as a console page of this server would: with
// the session cookie, the page's Origin and the environment it chose.
export function sessionClient<S extends DescService>(
  server: { baseUrl: string },
  service: S,
  cookie: string,
  options: { environment?: "test" | "live"; origin?: string } = {},
): Client<S> {
  return clientSending(server, service, {
    cookie,
    origin: options.origin ?? server.baseUrl,
    ...(options.environment ? { "onerouter-environment": options.environment } : {}),
  });
}
