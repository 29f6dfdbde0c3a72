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

const protoRoot = path.resolve(import.meta.dirname, "../../../proto");

// A grpc-js client of ApiKeyService on the server listening on `port`,
// built from the .proto at test time with proto-loader, so it shares no code
// with the server's generated types.
export function grpcApiKeyClient(port: number): grpc.Client {
  const definition = protoLoader.loadSync("onerouter/admin/v1/api_keys.proto", {
    includeDirs: [protoRoot],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    onerouter: { admin: { v1: { ApiKeyService: grpc.ServiceClientConstructor } } };
  };
  return new pkg.onerouter.admin.v1.ApiKeyService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}
