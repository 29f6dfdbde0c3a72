import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RetryInfoSchema } from "@onerouter/client/gen/google/rpc/error_details_pb";
import { ApiKeyService } from "@onerouter/client/gen/onerouter/admin/v1/api_keys_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { failure } from "@onerouter/gatekeeper/testing";
import { startTestOneRouter, type TestOneRouter } from "../test/index";

// Sends `authorization` verbatim (or no header), to probe malformed and missing keys.
function transport(baseUrl: string, authorization?: string): Transport {
  return createConnectTransport({
    baseUrl,
    interceptors: [
      (next) => (req) => {
        if (authorization !== undefined) req.header.set("authorization", authorization);
        return next(req);
      },
    ],
  });
}

describe("API key authentication", () => {
  let app: TestOneRouter;
  beforeAll(async () => {
    app = await startTestOneRouter();
  });
  afterAll(async () => app?.close());

  const keys = (authorization?: string) => createClient(ApiKeyService, transport(app.baseUrl, authorization));

  it("rejects a call without a key", async () => {
    expect(await failure(keys().listApiKeys({}))).toMatchObject({ code: Code.Unauthenticated, reason: "API_KEY_MISSING" });
  });

  it("rejects a malformed key or header", async () => {
    for (const header of ["Bearer nope", "Basic b3JfdGVzdF8=", "Bearer or_prod_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "or_test_x"]) {
      expect(await failure(keys(header).listApiKeys({})), header).toMatchObject({
        code: Code.Unauthenticated,
        reason: "API_KEY_MALFORMED",
      });
    }
  });

  it("rejects a well-formed key that does not exist", async () => {
    const made = await app.createKey();
    const forged = made.secret.slice(0, -4) + (made.secret.endsWith("AAAA") ? "BBBB" : "AAAA");
    expect(await failure(keys(`Bearer ${forged}`).listApiKeys({}))).toMatchObject({
      code: Code.Unauthenticated,
      reason: "API_KEY_UNKNOWN",
    });
  });

  it("refuses every key of a suspended tenant, and lets it in again once resumed, its data intact", async () => {
    const made = await app.createKey();
    const client = keys(`Bearer ${made.secret}`);
    await app.db.knex("tenants").where({ id: app.defaultTenantId }).update({ suspended_at: new Date() });
    try {
      expect(await failure(client.listApiKeys({}))).toMatchObject({
        code: Code.PermissionDenied,
        reason: "TENANT_SUSPENDED",
        metadata: { tenant_id: app.defaultTenantId },
      });
    } finally {
      await app.db.knex("tenants").where({ id: app.defaultTenantId }).update({ suspended_at: null });
    }
    const { apiKeys } = await client.listApiKeys({});
    expect(apiKeys.map((k) => k.id)).toContain(made.id);
  });

  it("rejects a revoked key, including one that revoked itself", async () => {
    const made = await app.createKey();
    const client = keys(`Bearer ${made.secret}`);
    const revoked = await client.revokeApiKey({ id: made.id });
    expect(revoked.apiKey?.revokeTime).toBeDefined();
    expect(await failure(client.listApiKeys({}))).toMatchObject({ code: Code.Unauthenticated, reason: "API_KEY_REVOKED" });
  });

  it("keeps live keys away from test data", async () => {
    const test = await app.createKey(Environment.TEST);
    const live = await app.createKey(Environment.LIVE);
    const liveClient = keys(`Bearer ${live.secret}`);
    const listed = await liveClient.listApiKeys({});
    expect(listed.apiKeys.map((k) => k.id)).toContain(live.id);
    expect(listed.apiKeys.map((k) => k.id)).not.toContain(test.id);
    expect(listed.apiKeys.every((k) => k.environment === Environment.LIVE)).toBe(true);
    expect(await failure(liveClient.revokeApiKey({ id: test.id }))).toMatchObject({
      code: Code.NotFound,
      reason: "RESOURCE_NOT_FOUND",
    });
    // The test key still works: the live key could not touch it.
    await keys(`Bearer ${test.secret}`).listApiKeys({});
  });

  it("does not let a test key mint a live key", async () => {
    const test = await app.createKey(Environment.TEST);
    expect(
      await failure(keys(`Bearer ${test.secret}`).createApiKey({ name: "escalate", environment: Environment.LIVE })),
    ).toMatchObject({ code: Code.PermissionDenied, reason: "ENVIRONMENT_MISMATCH" });
  });

  it("creates a key that works at once, shown once, stored hashed", async () => {
    const admin = await app.createKey();
    const created = await keys(`Bearer ${admin.secret}`).createApiKey({ name: "ci", scopes: ["admin:read"] });
    expect(created.secret).toMatch(/^or_test_[A-Za-z0-9_-]{43}$/);
    expect(created.apiKey?.prefix).toBe(created.secret.slice(0, 12));
    const stored = await app.db.knex("api_keys").where({ id: created.apiKey!.id }).first();
    expect(JSON.stringify(stored)).not.toContain(created.secret);
    const scoped = keys(`Bearer ${created.secret}`);
    await scoped.listApiKeys({});
    expect(await failure(scoped.createApiKey({ name: "no" }))).toMatchObject({
      code: Code.PermissionDenied,
      reason: "API_KEY_SCOPE_MISSING",
    });
  });

  it("names the bad field", async () => {
    const admin = await app.createKey();
    expect(await failure(keys(`Bearer ${admin.secret}`).createApiKey({ name: "" }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "INVALID_FIELD",
      field: "name",
    });
  });
});

describe("per-key rate limit", () => {
  let app: TestOneRouter;
  beforeAll(async () => {
    app = await startTestOneRouter({ env: { ONEROUTER_RATE_LIMIT_RPS: "1", ONEROUTER_RATE_LIMIT_BURST: "3" } });
  });
  afterAll(async () => app?.close());

  it("answers RESOURCE_EXHAUSTED with retry info once the bucket is empty, per key", async () => {
    const first = await app.createKey();
    const second = await app.createKey();
    const client = createClient(ApiKeyService, transport(app.baseUrl, `Bearer ${first.secret}`));
    for (let i = 0; i < 3; i++) await client.listApiKeys({});
    const limited = await client.listApiKeys({}).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(await failure(Promise.reject(limited))).toMatchObject({ code: Code.ResourceExhausted, reason: "RATE_LIMITED" });
    const retry = limited?.findDetails(RetryInfoSchema)[0];
    expect(Number(retry?.retryDelay?.seconds ?? 0) * 1000 + (retry?.retryDelay?.nanos ?? 0) / 1e6).toBeGreaterThan(0);
    // Another key has its own bucket.
    await createClient(ApiKeyService, transport(app.baseUrl, `Bearer ${second.secret}`)).listApiKeys({});
  });
});
