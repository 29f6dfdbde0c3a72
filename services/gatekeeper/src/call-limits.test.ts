import { fromBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant } from "@onerouter/admin";
import { ErrorInfoSchema } from "@onerouter/client/gen/google/rpc/error_details_pb";
import { ApiKeyService } from "@onerouter/client/gen/onerouter/admin/v1/api_keys_pb";
import { AuditLogService } from "@onerouter/client/gen/onerouter/admin/v1/audit_logs_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { createLogger } from "@onerouter/core";
import { apiClient, grpcApiKeyClient, startTestOneRouter, type TestOneRouter } from "@onerouter/server/testing";
import { failure } from "../test/index";
import type { AuthenticatedCaller } from "./authenticator";
import { CallLimits } from "./call-limits";

// A grpc-js unary call: its response headers, and its error (with trailers) if it failed.
function grpcCall(client: grpc.Client, method: string, request: object, secret: string) {
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${secret}`);
  return new Promise<{ headers?: grpc.Metadata; error?: grpc.ServiceError }>((resolve) => {
    let headers: grpc.Metadata | undefined;
    const call = (client as unknown as Record<string, Function>)[method]!.call(client, request, metadata, (error: grpc.ServiceError | null) =>
      resolve({ headers, error: error ?? undefined }),
    ) as grpc.ClientUnaryCall;
    call.on("metadata", (md: grpc.Metadata) => (headers = md));
  });
}

// A plain HTTP Connect JSON call, as curl would make it.
async function connectJson(app: TestOneRouter, method: string, request: object, secret: string) {
  const res = await fetch(`${app.baseUrl}/${ApiKeyService.typeName}/${method}`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: JSON.stringify(request),
  });
  const limit = (name: string) => res.headers.get(name);
  const body = (await res.json()) as { details?: { type: string; value: string }[] };
  const errorInfo = body.details?.find((d) => d.type === "google.rpc.ErrorInfo");
  const info = errorInfo && fromBinary(ErrorInfoSchema, Buffer.from(errorInfo.value, "base64"));
  return {
    status: res.status,
    reason: info?.reason,
    refusedBy: info?.metadata.limit,
    limit: limit("ratelimit-limit"),
    remaining: limit("ratelimit-remaining"),
    reset: limit("ratelimit-reset"),
    retryAfter: limit("retry-after"),
  };
}

describe("call limits and RateLimit headers", () => {
  let app: TestOneRouter;
  let admin: string;
  beforeAll(async () => {
    app = await startTestOneRouter();
    admin = (await app.createKey()).secret;
  });
  afterAll(async () => app?.close());

  const keys = (secret = admin) => apiClient(app, ApiKeyService, secret);

  it("tells every Connect answer, success or error, the limit closest to exhaustion", async () => {
    // The default tenant has no plan limits: the server's (burst 200) is the one left.
    const plain = await connectJson(app, "ListApiKeys", {}, admin);
    expect(plain).toMatchObject({ status: 200, limit: "200" });
    expect(Number(plain.remaining)).toBeGreaterThan(190);
    expect(Number(plain.reset)).toBeGreaterThanOrEqual(1);

    const { apiKey, secret } = await keys().createApiKey({ name: "throttled", limits: { requestsPerSecond: 1, burst: 3 } });
    expect(apiKey!.limits).toMatchObject({ requestsPerSecond: 1, burst: 3, requestsPerDay: 0n });
    const first = await connectJson(app, "ListApiKeys", {}, secret);
    expect(first).toMatchObject({ status: 200, limit: "3", remaining: "2", retryAfter: null });
    const notFound = await connectJson(app, "RevokeApiKey", { id: "key_missing" }, secret);
    expect(notFound).toMatchObject({ status: 404, limit: "3", remaining: "1" });

    let refused;
    for (let i = 0; i < 10 && !refused; i++) {
      const answer = await connectJson(app, "ListApiKeys", {}, secret);
      if (answer.status !== 200) refused = answer;
    }
    expect(refused).toMatchObject({
      status: 429,
      reason: "RATE_LIMITED",
      refusedBy: "api_key_requests_per_second",
      limit: "3",
      remaining: "0",
      retryAfter: "1",
    });
  });

  it("sends them as gRPC metadata to grpc-js, on success and on error", async () => {
    const client = grpcApiKeyClient(app.server.port);
    try {
      const { secret } = await keys().createApiKey({ name: "grpc", limits: { requestsPerSecond: 5, burst: 10 } });
      const ok = await grpcCall(client, "ListApiKeys", {}, secret);
      expect(ok.error).toBeUndefined();
      expect(ok.headers!.get("ratelimit-limit")).toEqual(["10"]);
      expect(ok.headers!.get("ratelimit-remaining")).toEqual(["9"]);
      expect(Number(ok.headers!.get("ratelimit-reset")[0])).toBeGreaterThanOrEqual(1);

      const failed = await grpcCall(client, "RevokeApiKey", { id: "key_missing" }, secret);
      expect(failed.error!.code).toBe(grpc.status.NOT_FOUND);
      expect(failed.error!.metadata.get("ratelimit-limit")).toEqual(["10"]);
      expect(failed.error!.metadata.get("ratelimit-remaining")).toEqual(["8"]);
    } finally {
      client.close();
    }
  });

  it("holds a key to its requests per UTC day, editable with UpdateApiKey and audited", async () => {
    const { apiKey, secret } = await keys().createApiKey({ name: "daily" });
    const { apiKey: updated } = await keys().updateApiKey({
      id: apiKey!.id,
      limits: { requestsPerDay: 3n },
      updateMask: { paths: ["limits"] },
    });
    expect(updated).toMatchObject({ name: "daily", limits: { requestsPerSecond: 0, burst: 0, requestsPerDay: 3n } });
    const listed = (await keys().listApiKeys({})).apiKeys.find((k) => k.id === apiKey!.id);
    expect(listed!.limits!.requestsPerDay).toBe(3n);

    const remaining = [];
    for (let i = 0; i < 3; i++) remaining.push((await connectJson(app, "ListApiKeys", {}, secret)).remaining);
    expect(remaining).toEqual(["2", "1", "0"]);
    const refused = await failure(keys(secret).listApiKeys({}));
    expect(refused).toMatchObject({
      code: Code.ResourceExhausted,
      reason: "RATE_LIMITED",
      metadata: { limit: "api_key_requests_per_day", api_key_id: apiKey!.id, requests_per_day: "3" },
    });
    const tomorrow = new Date(new Date().setUTCHours(24, 0, 0, 0)).getTime();
    const plain = await connectJson(app, "ListApiKeys", {}, secret);
    expect(plain.status).toBe(429);
    expect(Math.abs(Number(plain.retryAfter) - (tomorrow - Date.now()) / 1000)).toBeLessThan(60);

    // Renaming alone keeps the limits; lifting them lets the key in again.
    const { apiKey: renamed } = await keys().updateApiKey({ id: apiKey!.id, name: "daily, renamed", updateMask: { paths: ["name"] } });
    expect(renamed).toMatchObject({ name: "daily, renamed", limits: { requestsPerDay: 3n } });
    await keys().updateApiKey({ id: apiKey!.id, updateMask: { paths: ["limits"] } });
    await keys(secret).listApiKeys({});

    const { entries } = await apiClient(app, AuditLogService, admin).listAuditLogEntries({ action: "api_key.update" });
    expect(entries.filter((e) => e.resourceId === apiKey!.id).map((e) => e.metadata)).toEqual([
      { requests_per_second: "0", burst: "0", requests_per_day: "0" },
      { name: "daily, renamed" },
      { requests_per_second: "0", burst: "0", requests_per_day: "3" },
    ]);
  });

  it("refuses bad limits naming the field, and another tenant's key as not found", async () => {
    const { apiKey } = await keys().createApiKey({ name: "target" });
    const cases: [object, string][] = [
      [{ limits: { burst: 5 }, updateMask: { paths: ["limits"] } }, "limits.burst"],
      [{ limits: { requestsPerSecond: -1 }, updateMask: { paths: ["limits"] } }, "limits.requests_per_second"],
      [{ limits: { requestsPerDay: -2n }, updateMask: { paths: ["limits"] } }, "limits.requests_per_day"],
      [{ name: "", limits: { requestsPerDay: 5n } }, "name"],
      [{ name: " ", updateMask: { paths: ["name"] } }, "name"],
      [{ updateMask: { paths: ["scopes"] } }, "update_mask"],
    ];
    for (const [change, field] of cases) {
      expect(await failure(keys().updateApiKey({ id: apiKey!.id, ...change })), field).toMatchObject({
        code: Code.InvalidArgument,
        field,
      });
    }
    expect(await failure(keys().createApiKey({ name: "bad", limits: { burst: 2 } }))).toMatchObject({ field: "limits.burst" });

    const other = await createTenant(app.db.knex, { name: "Other", planId: "pro" });
    const otherKey = await app.createKey(Environment.TEST, other.id);
    expect(await failure(keys(otherKey.secret).updateApiKey({ id: apiKey!.id, name: "mine" }))).toMatchObject({
      code: Code.NotFound,
    });
  });

  it("holds each caller of a free tenant to the plan's 10 requests a second", async () => {
    // Asked directly, so the calls arrive faster than the plan refills.
    const limits = new CallLimits({ knex: app.db.knex, server: { ratePerSecond: 1000, burst: 1000 }, logger: createLogger("silent") });
    const tenant = await createTenant(app.db.knex, { name: "Free", planId: "free" });
    const caller = (actor: string): AuthenticatedCaller => ({
      tenantId: tenant.id,
      environment: Environment.TEST,
      actor,
      scopes: [],
      plan: { id: "free", members: 1, providerAccounts: 2, webhookEndpoints: 2 },
    });
    const admitted = [];
    for (let i = 0; i < 10; i++) admitted.push(await limits.admit(caller("api_key:a"), "onerouter.admin.v1.ApiKeyService/ListApiKeys"));
    expect(admitted.map((headers) => headers.get("ratelimit-remaining"))).toEqual(["9", "8", "7", "6", "5", "4", "3", "2", "1", "0"]);
    const refused = await limits.admit(caller("api_key:a"), "onerouter.admin.v1.ApiKeyService/ListApiKeys").then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    if (!refused) throw new Error("the 11th call was admitted");
    expect(await failure(Promise.reject(refused))).toMatchObject({ reason: "RATE_LIMITED", metadata: { limit: "plan_requests_per_second" } });
    expect(refused.metadata.get("retry-after")).toBe("1");
    expect(refused.metadata.get("ratelimit-limit")).toBe("10");
    // Another caller of the tenant has its own; refused calls were not counted.
    await limits.admit(caller("api_key:b"), "onerouter.admin.v1.ApiKeyService/ListApiKeys");
    await limits.flush();
    const [row] = await app.db.knex("usage_counters").where({ tenant_id: tenant.id, metric: "api_requests" }).select("count");
    expect(Number(row.count)).toBe(11);
  });
});
