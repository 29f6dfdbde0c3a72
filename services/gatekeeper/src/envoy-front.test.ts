import { createRequire } from "node:module";
import path from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import knexFactory from "knex";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminMigrations, createApiKey, createMemberWithPassword, createTenant, roleScopes, sessionCookieName, setTenantSuspended } from "@onerouter/admin";
import { ErrorInfoSchema } from "@onerouter/client/gen/google/rpc/error_details_pb";
import { StatusSchema } from "@onerouter/client/gen/google/rpc/status_pb";
import { UsageService } from "@onerouter/client/gen/onerouter/admin/v1/usage_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import {
  callerKey,
  createErrorInterceptor,
  createLogger,
  createMetrics,
  hashToken,
  loadConfig,
  newId,
  outboxMigrations,
  randomToken,
  startServer,
  type Caller,
  type Config,
  type Database,
  type RunningServer,
} from "@onerouter/core";
import { createTestDatabase, postgresAvailable } from "@onerouter/core/testing";
import { ApiKeyAuthenticator } from "./authenticator";
import { startGatekeeperServer } from "./gatekeeper-server";
import { meshCallerInterceptor } from "./mesh-identity";
import { gatekeeperMigrations } from "./migrations";
import { rateBucketRetention, rateBucketsTable } from "./shared-rate-store";

// The gatekeeper as Envoy calls it: grpc-js with Envoy's own protos (as
// @grpc/grpc-js-xds ships them), two replicas on one Postgres.

const deps = path.join(path.dirname(createRequire(import.meta.url).resolve("@grpc/grpc-js-xds/package.json")), "deps");
const envoy = grpc.loadPackageDefinition(
  protoLoader.loadSync(["envoy/service/auth/v3/external_auth.proto", "envoy/service/ratelimit/v3/rls.proto"], {
    includeDirs: ["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((module) => path.join(deps, module)),
    keepCase: true,
    enums: String,
    defaults: true,
    oneofs: true,
  }),
) as unknown as {
  envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } }; ratelimit: { v3: { RateLimitService: grpc.ServiceClientConstructor } } } };
};

interface HeaderValueOption {
  header: { key: string; value: string };
  append_action: string;
}
interface CheckResponse {
  status: { code: number; message: string };
  http_response: "ok_response" | "denied_response";
  ok_response?: { headers: HeaderValueOption[]; headers_to_remove: string[] };
  denied_response?: { status: { code: string }; headers: HeaderValueOption[]; body: string };
}
interface RateLimitResponse {
  overall_code: string;
  response_headers_to_add: { key: string; value: string }[];
  raw_body: Buffer;
}

function unary<T>(client: grpc.Client, method: string, request: object): Promise<T> {
  return new Promise((resolve, reject) =>
    (client as unknown as Record<string, Function>)[method]!.call(client, request, (error: grpc.ServiceError | null, response: T) =>
      error ? reject(error) : resolve(response),
    ),
  );
}

const meshSecret = "a mesh secret that is long enough to be one";
const readKeys = "/onerouter.admin.v1.ApiKeyService/ListApiKeys";

// What Envoy sends Check for a call to `rpc` with these (lowercase) headers, from `address`.
function checkRequest(rpc: string, headers: Record<string, string>, address = "198.51.100.7") {
  return {
    attributes: {
      source: { address: { socket_address: { address, port_value: 50000 } } },
      request: { http: { method: "POST", path: rpc, host: "api.example.com", scheme: "https", headers: { ":path": rpc, ...headers } } },
    },
  };
}

function rateLimitRequest(caller: Caller, rpc: string) {
  const entry = (key: string, value: string) => ({ key, value });
  return {
    domain: "onerouter",
    descriptors: [
      { entries: [entry("tenant_id", caller.tenantId), entry("environment", "test"), entry("actor", caller.actor), entry("rpc", rpc)] },
      { entries: [entry("remote_address", "198.51.100.7"), entry("rpc", rpc)] },
    ],
  };
}

const headerMap = (options: HeaderValueOption[]): Record<string, string> => Object.fromEntries(options.map((o) => [o.header.key, o.header.value]));

// A refusal as Envoy relays it: the HTTP status, the Connect JSON body's
// code and ErrorInfo reason, and the gRPC status its headers carry.
function refusal(response: CheckResponse) {
  const denied = response.denied_response!;
  const headers = headerMap(denied.headers);
  const body = JSON.parse(denied.body) as { code: string; details: { type: string; value: string }[] };
  const info = body.details.find((d) => d.type === "google.rpc.ErrorInfo")!;
  const status = fromBinary(StatusSchema, Buffer.from(headers["grpc-status-details-bin"]!, "base64"));
  return {
    http: denied.status.code,
    code: body.code,
    reason: fromBinary(ErrorInfoSchema, Buffer.from(info.value, "base64")).reason,
    grpcStatus: headers["grpc-status"],
    grpcDetail: status.details.length,
  };
}

describe.runIf(postgresAvailable())("the gatekeeper behind Envoy", () => {
  let db: Database;
  let config: Config;
  const servers: RunningServer[] = [];
  let replicas: { auth: grpc.Client; limits: grpc.Client }[];
  let tenantId: string;
  let secret: string;
  let caller: Caller;

  const logger = createLogger("silent");
  const clientsOf = (server: RunningServer) => {
    const address = `127.0.0.1:${server.port}`;
    const credentials = grpc.credentials.createInsecure();
    return {
      auth: new envoy.envoy.service.auth.v3.Authorization(address, credentials),
      limits: new envoy.envoy.service.ratelimit.v3.RateLimitService(address, credentials),
    };
  };

  beforeAll(async () => {
    db = await createTestDatabase("postgres");
    await db.migrate([...adminMigrations, ...outboxMigrations, ...gatekeeperMigrations]);
    config = loadConfig({ LOG_LEVEL: "silent" });
    // Three calls per caller, refilled too slowly to matter here.
    config.rateLimit = { requestsPerSecond: 0.001, burst: 3 };
    // Four failed authentications per client address, likewise.
    config.authFailures = { ...config.authFailures, perMinute: 1, burst: 4 };
    tenantId = (await createTenant(db.knex, { name: "Behind Envoy", planId: "pro" })).id;
    secret = (await createApiKey(db.knex, { tenantId, environment: Environment.TEST, name: "edge", createdBy: "test" })).secret;
    caller = await new ApiKeyAuthenticator(db.knex).authenticate(`Bearer ${secret}`);
    for (let i = 0; i < 2; i++) {
      servers.push(await startGatekeeperServer({ knex: db.knex, config, logger, meshSecret, host: "127.0.0.1", port: 0 }));
    }
    replicas = servers.map(clientsOf);
  });
  afterAll(async () => {
    for (const replica of replicas ?? []) for (const client of Object.values(replica)) client.close();
    for (const server of servers) await server.close();
    await db?.close();
  });

  it("allows a valid key with its identity and the mesh secret, replacing what the client sent under those names", async () => {
    const response = await unary<CheckResponse>(
      replicas[0]!.auth,
      "Check",
      checkRequest(readKeys, { authorization: `Bearer ${secret}`, "x-onerouter-tenant-id": "forged" }),
    );
    expect(response.status.code).toBe(0);
    const ok = response.ok_response!;
    expect(ok.headers.every((h) => h.append_action === "OVERWRITE_IF_EXISTS_OR_ADD")).toBe(true);
    expect(headerMap(ok.headers)).toEqual({
      "x-onerouter-mesh-secret": meshSecret,
      "x-onerouter-tenant-id": tenantId,
      "x-onerouter-environment": "test",
      "x-onerouter-actor": `api_key:${caller.apiKeyId}`,
      "x-onerouter-api-key-id": caller.apiKeyId,
      "x-onerouter-scopes": "",
      "x-onerouter-plan": JSON.stringify(caller.plan),
      "x-onerouter-client-address": "198.51.100.7",
    });
    expect(ok.headers_to_remove.sort()).toEqual(["x-onerouter-member-id", "x-onerouter-member-role", "x-onerouter-session-id"]);
  });

  it("allows a member's session with the member's identity, and refuses a state-changing call from another site", async () => {
    const member = await createMemberWithPassword(db.knex, {
      tenantId,
      email: "dev@example.com",
      name: "A developer",
      role: "developer",
      password: "a long enough password",
      actor: "test",
    });
    const token = randomToken(32);
    const sessionId = newId("ses");
    await db.knex("sessions").insert({
      id: sessionId,
      tenant_id: tenantId,
      member_id: member.id,
      token_hash: hashToken(token),
      expires_at: new Date(Date.now() + 3600_000),
      ip_address: "",
      user_agent: "",
    });
    const createKey = "/onerouter.admin.v1.ApiKeyService/CreateApiKey";
    const session = { cookie: `${sessionCookieName}=${token}`, "connect-protocol-version": "1", "onerouter-environment": "test" };
    const allowed = await unary<CheckResponse>(replicas[0]!.auth, "Check", checkRequest(createKey, { ...session, origin: "https://api.example.com" }));
    expect(headerMap(allowed.ok_response!.headers)).toMatchObject({
      "x-onerouter-actor": `member:${member.id}`,
      "x-onerouter-member-id": member.id,
      "x-onerouter-member-role": "developer",
      "x-onerouter-session-id": sessionId,
      "x-onerouter-scopes": roleScopes("developer").join(","),
    });
    expect(allowed.ok_response!.headers_to_remove).toEqual(["x-onerouter-api-key-id"]);
    const elsewhere = await unary<CheckResponse>(replicas[1]!.auth, "Check", checkRequest(createKey, { ...session, origin: "https://evil.example" }));
    expect(refusal(elsewhere)).toMatchObject({ http: "Forbidden", reason: "CROSS_SITE_REQUEST" });
  });

  it("denies a bogus, a revoked and a suspended tenant's key with a typed body and the gRPC status", async () => {
    const check = async (authorization: string) =>
      refusal(await unary<CheckResponse>(replicas[1]!.auth, "Check", checkRequest(readKeys, { authorization })));
    expect(await check("Bearer or_test_bogus0000000000000000000000000000")).toEqual({
      http: "Unauthorized",
      code: "unauthenticated",
      reason: "API_KEY_UNKNOWN",
      grpcStatus: String(Code.Unauthenticated),
      grpcDetail: 1,
    });
    const revoked = await createApiKey(db.knex, { tenantId, environment: Environment.TEST, name: "gone", createdBy: "test" });
    await db.knex("api_keys").where({ id: revoked.row.id }).update({ revoked_at: new Date() });
    expect(await check(`Bearer ${revoked.secret}`)).toMatchObject({ http: "Unauthorized", reason: "API_KEY_REVOKED" });

    const suspended = (await createTenant(db.knex, { name: "Suspended", planId: "free" })).id;
    const key = await createApiKey(db.knex, { tenantId: suspended, environment: Environment.TEST, name: "held", createdBy: "test" });
    await setTenantSuspended(db.knex, { tenantId: suspended, actor: "operator", environment: Environment.LIVE }, true);
    expect(await check(`Bearer ${key.secret}`)).toEqual({
      http: "Forbidden",
      code: "permission_denied",
      reason: "TENANT_SUSPENDED",
      grpcStatus: String(Code.PermissionDenied),
      grpcDetail: 1,
    });
  });

  it("answers OVER_LIMIT once the caller's budget, shared by both replicas, is spent", async () => {
    const remaining: string[] = [];
    for (const replica of [0, 1, 0]) {
      const response = await unary<RateLimitResponse>(replicas[replica]!.limits, "ShouldRateLimit", rateLimitRequest(caller, readKeys));
      expect(response.overall_code).toBe("OK");
      remaining.push(headerMap(response.response_headers_to_add.map((header) => ({ header, append_action: "" })))["ratelimit-remaining"]!);
    }
    expect(remaining).toEqual(["2", "1", "0"]);
    const refused = await unary<RateLimitResponse>(replicas[1]!.limits, "ShouldRateLimit", rateLimitRequest(caller, readKeys));
    expect(refused.overall_code).toBe("OVER_LIMIT");
    const headers = Object.fromEntries(refused.response_headers_to_add.map((h) => [h.key, h.value]));
    expect(headers).toMatchObject({ "grpc-status": String(Code.ResourceExhausted), "ratelimit-remaining": "0" });
    expect(Number(headers["retry-after"])).toBeGreaterThan(0);
    const body = JSON.parse(refused.raw_body.toString()) as { code: string };
    expect(body.code).toBe("resource_exhausted");

    // Asked at once, the replicas still give out exactly the budget.
    const racing = await createApiKey(db.knex, { tenantId, environment: Environment.TEST, name: "racing", createdBy: "test" });
    const racer = { ...caller, actor: `api_key:${racing.row.id}`, apiKeyId: racing.row.id };
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        unary<RateLimitResponse>(replicas[i % 2]!.limits, "ShouldRateLimit", rateLimitRequest(racer, readKeys)),
      ),
    );
    expect(answers.filter((answer) => answer.overall_code === "OK")).toHaveLength(3);
  });

  it("counts failed authentications on either replica against the client's address, and refuses it on both", async () => {
    const address = "203.0.113.9";
    const bogus = checkRequest(readKeys, { authorization: "Bearer or_test_bogus0000000000000000000000000000" }, address);
    for (const replica of [0, 1, 0, 1]) {
      expect(refusal(await unary<CheckResponse>(replicas[replica]!.auth, "Check", bogus)).reason).toBe("API_KEY_UNKNOWN");
    }
    // Spent: from that address even a valid key, or signing in, is refused before any lookup.
    const valid = checkRequest(readKeys, { authorization: `Bearer ${secret}` }, address);
    const signIn = checkRequest("/onerouter.admin.v1.SessionService/SignIn", {}, address);
    for (const [replica, request] of [[0, valid], [1, signIn]] as const) {
      expect(refusal(await unary<CheckResponse>(replicas[replica]!.auth, "Check", request))).toMatchObject({
        http: "TooManyRequests",
        reason: "RATE_LIMITED",
        grpcStatus: String(Code.ResourceExhausted),
      });
    }
    expect((await unary<CheckResponse>(replicas[1]!.auth, "Check", checkRequest(readKeys, { authorization: `Bearer ${secret}` }))).status.code).toBe(0);

    // The client-address descriptor of a call without a caller says the same.
    const anonymous = (from: string) => ({
      domain: "onerouter",
      descriptors: [{ entries: [{ key: "remote_address", value: from }, { key: "rpc", value: "/onerouter.admin.v1.SessionService/SignIn" }] }],
    });
    const refused = await unary<RateLimitResponse>(replicas[0]!.limits, "ShouldRateLimit", anonymous(address));
    expect(refused.overall_code).toBe("OVER_LIMIT");
    expect(Number(Object.fromEntries(refused.response_headers_to_add.map((h) => [h.key, h.value]))["retry-after"])).toBeGreaterThan(0);
    expect((await unary<RateLimitResponse>(replicas[1]!.limits, "ShouldRateLimit", anonymous("203.0.113.10"))).overall_code).toBe("OK");
  });

  it("admits a CSV download as StreamCsvExport, with the caller's identity", async () => {
    const download = "/exports/payments.csv?start_time=2026-11-01T00:00:00Z";
    const allowed = await unary<CheckResponse>(replicas[0]!.auth, "Check", checkRequest(download, { authorization: `Bearer ${secret}` }));
    expect(headerMap(allowed.ok_response!.headers)).toMatchObject({ "x-onerouter-tenant-id": tenantId, "x-onerouter-mesh-secret": meshSecret });
    const anonymous = await unary<CheckResponse>(replicas[1]!.auth, "Check", checkRequest(download, {}));
    expect(refusal(anonymous)).toMatchObject({ http: "Unauthorized", reason: "API_KEY_MISSING" });
  });

  it("prunes the buckets no call has touched for a day", async () => {
    const dayAgo = new Date(Date.now() - 86_400_000 - 60_000);
    await db.knex(rateBucketsTable).insert([
      { key: "server:api_key:stale", tokens: 0, updated_at: dayAgo },
      { key: "server:api_key:recent", tokens: 0, updated_at: new Date() },
    ]);
    expect(await rateBucketRetention(db.knex, logger).prune()).toBe(1);
    const left = await db.knex(rateBucketsTable).whereIn("key", ["server:api_key:stale", "server:api_key:recent"]).pluck("key");
    expect(left).toEqual(["server:api_key:recent"]);
  });

  it("refuses every call when the limiter's store cannot be reached", async () => {
    const quiet = () => undefined;
    const unreachable = knexFactory({
      client: "pg",
      connection: "postgres://nobody@127.0.0.1:1/none",
      acquireConnectionTimeout: 2000,
      pool: { min: 0, max: 1 },
      log: { warn: quiet, error: quiet, debug: quiet, deprecate: quiet },
    });
    const server = await startGatekeeperServer({ knex: db.knex, limiterKnex: unreachable, config, logger, meshSecret, host: "127.0.0.1", port: 0 });
    servers.push(server);
    const clients = clientsOf(server);
    replicas.push(clients);
    const error = await unary(clients.limits, "ShouldRateLimit", rateLimitRequest(caller, readKeys)).then(
      () => undefined,
      (e: grpc.ServiceError) => e,
    );
    expect(error?.code).toBe(grpc.status.UNAVAILABLE);
    const status = fromBinary(StatusSchema, error!.metadata.get("grpc-status-details-bin")[0] as Buffer);
    expect(status.details.map((d) => fromBinary(ErrorInfoSchema, d.value).reason)).toEqual(["RATE_LIMITER_UNAVAILABLE"]);
    await unreachable.destroy();
  });

  it("lets a service believe identity only next to the mesh secret, as the same Caller the key gives in process", async () => {
    let seen: Caller | undefined;
    const service = await startServer({
      host: "127.0.0.1",
      port: 0,
      logger,
      metrics: createMetrics(),
      routes: (router) =>
        router.service(UsageService, {
          getUsage(_req, ctx) {
            seen = ctx.values.get(callerKey);
            return {};
          },
        }),
      interceptors: [createErrorInterceptor(logger), meshCallerInterceptor({ meshSecret })],
      maxRequestBytes: 1 << 20,
      readiness: async () => undefined,
      shutdownGraceMs: 0,
    });
    try {
      const usage = createClient(UsageService, createGrpcTransport({ baseUrl: service.url }));
      const reasonOf = (headers: Record<string, string>) =>
        usage.getUsage({}, { headers }).then(
          () => "admitted",
          (e: unknown) => ConnectError.from(e).findDetails(ErrorInfoSchema)[0]?.reason,
        );
      const checked = await unary<CheckResponse>(replicas[0]!.auth, "Check", checkRequest(readKeys, { authorization: `Bearer ${secret}` }));
      const identity = headerMap(checked.ok_response!.headers);
      const { "x-onerouter-mesh-secret": _secret, ...forged }: Record<string, string> = { ...identity, "x-onerouter-tenant-id": "another tenant" };
      expect(await reasonOf(forged)).toBe("MESH_SECRET_MISSING");
      expect(await reasonOf({ ...forged, "x-onerouter-mesh-secret": `${meshSecret}!` })).toBe("MESH_SECRET_INVALID");
      expect(await reasonOf({ ...identity, "x-onerouter-environment": "production" })).toBe("MESH_IDENTITY_MALFORMED");
      expect(seen).toBeUndefined();
      expect(await reasonOf(identity)).toBe("admitted");
      const { keyLimits: _limits, ...inProcess } = caller as Caller & { keyLimits?: unknown };
      expect(seen).toEqual(inProcess);
    } finally {
      await service.close();
    }
  });
});
