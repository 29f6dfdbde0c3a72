import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeyService } from "@onerouter/client/gen/onerouter/admin/v1/api_keys_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { PaymentService } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { outboxMigrations, servicePartially, type Database } from "@onerouter/core";
import { createTestDatabase } from "@onerouter/core/testing";
import { gatekeeperMigrations } from "@onerouter/gatekeeper";
import { routingMigrations } from "@onerouter/routing";
import { failure, inMemoryApi } from "@onerouter/gatekeeper/testing";
import { apiKeyService } from "./api-key-service";
import { createApiKey } from "./api-keys";
import { adminMigrations } from "./migrations";
import { createTenant } from "./tenants";

// A key never hands on more than it holds: scopes, environment, lifetime.
// ApiKeyService in memory behind the gatekeeper; PaymentService is there only
// for the gatekeeper to refuse.
describe("API keys made by API keys", () => {
  let db: Database;
  let api: ReturnType<typeof inMemoryApi>;
  let tenantId: string;
  beforeAll(async () => {
    db = await createTestDatabase("pglite");
    await db.migrate([...adminMigrations, ...outboxMigrations, ...routingMigrations, ...gatekeeperMigrations]);
    tenantId = (await createTenant(db.knex, { name: "Keys", planId: "enterprise" })).id;
    api = inMemoryApi(db.knex, (router) => {
      router.service(ApiKeyService, apiKeyService(db.knex));
      servicePartially(router, PaymentService, {});
    });
  });
  afterAll(async () => db?.close());

  async function keyWith(scopes: string[], options: { environment?: Environment; expiresAt?: Date } = {}) {
    const { row, secret } = await createApiKey(db.knex, {
      tenantId,
      environment: options.environment ?? Environment.TEST,
      name: `scoped ${scopes.join(" ")}`,
      scopes,
      expiresAt: options.expiresAt,
      createdBy: "test",
    });
    return { id: row.id, secret, keys: api.client(ApiKeyService, secret) };
  }

  it("shows when a key was last used, as the gatekeeper records it, and keeps it when the key is revoked", async () => {
    const used = await keyWith([]);
    const lastUse = async () => (await used.keys.listApiKeys({})).apiKeys.find((k) => k.id === used.id)?.lastUseTime;
    // The gatekeeper records a use off the request's path, so it may land a moment later.
    const deadline = Date.now() + 5_000;
    while (!(await lastUse()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const seen = await lastUse();
    expect(seen).toBeDefined();
    const other = await keyWith([]);
    const revoked = await other.keys.revokeApiKey({ id: used.id });
    expect(revoked.apiKey?.lastUseTime).toEqual(seen);
  });

  it("gives a key made without scopes exactly its maker's scopes, never all", async () => {
    const maker = await keyWith(["admin:write"]);
    const made = await maker.keys.createApiKey({ name: "inherits" });
    expect(made.apiKey?.scopes).toEqual(["admin:write"]);
    const payments = api.client(PaymentService, made.secret);
    expect(await failure(payments.createPayment({ amount: 100n, currency: "USD" }))).toMatchObject({
      code: Code.PermissionDenied,
      reason: "API_KEY_SCOPE_MISSING",
    });
  });

  it("refuses scopes the maker does not hold, naming them", async () => {
    const maker = await keyWith(["admin:write", "payments:read"]);
    expect(
      await failure(maker.keys.createApiKey({ name: "grow", scopes: ["payments:read", "payments:write", "admin:read"] })),
    ).toMatchObject({
      code: Code.PermissionDenied,
      reason: "SCOPE_NOT_HELD",
      metadata: { missing_scopes: "payments:write,admin:read" },
    });
    const subset = await maker.keys.createApiKey({ name: "subset", scopes: ["payments:read"] });
    expect(subset.apiKey?.scopes).toEqual(["payments:read"]);
  });

  it("lets an unrestricted key grant any scope, and an unrestricted key by default", async () => {
    const maker = await keyWith([]);
    const scoped = await maker.keys.createApiKey({ name: "scoped", scopes: ["messaging:write"] });
    expect(scoped.apiKey?.scopes).toEqual(["messaging:write"]);
    const full = await maker.keys.createApiKey({ name: "full" });
    expect(full.apiKey?.scopes).toEqual([]);
  });

  it("accepts only known scopes", async () => {
    const maker = await keyWith([]);
    for (const scope of ["events:read", "payments:*", "Payments:read", "payments:read "]) {
      expect(await failure(maker.keys.createApiKey({ name: "odd", scopes: ["admin:read", scope] })), scope).toMatchObject({
        code: Code.InvalidArgument,
        reason: "INVALID_FIELD",
        field: "scopes[1]",
      });
    }
  });

  it("does not let a key revoke a key that holds more than it does", async () => {
    const owner = await keyWith([]);
    const broader = await keyWith(["admin:write", "payments:write"]);
    const maker = await keyWith(["admin:write"]);
    expect(await failure(maker.keys.revokeApiKey({ id: owner.id }))).toMatchObject({
      code: Code.PermissionDenied,
      reason: "SCOPE_NOT_HELD",
    });
    expect(await failure(maker.keys.revokeApiKey({ id: broader.id }))).toMatchObject({
      code: Code.PermissionDenied,
      reason: "SCOPE_NOT_HELD",
      metadata: { missing_scopes: "payments:write" },
    });
    await owner.keys.listApiKeys({});
    const peer = await keyWith(["admin:write"]);
    expect((await maker.keys.revokeApiKey({ id: peer.id })).apiKey?.revokeTime).toBeDefined();
    expect((await owner.keys.revokeApiKey({ id: broader.id })).apiKey?.revokeTime).toBeDefined();
  });

  it("keeps a key's keys in its own environment", async () => {
    const live = await keyWith([], { environment: Environment.LIVE });
    expect(await failure(live.keys.createApiKey({ name: "to test", environment: Environment.TEST }))).toMatchObject({
      code: Code.PermissionDenied,
      reason: "ENVIRONMENT_MISMATCH",
    });
    const test = await keyWith([]);
    expect(await failure(test.keys.createApiKey({ name: "to live", environment: Environment.LIVE }))).toMatchObject({
      code: Code.PermissionDenied,
      reason: "ENVIRONMENT_MISMATCH",
    });
    expect((await live.keys.createApiKey({ name: "same" })).apiKey?.environment).toBe(Environment.LIVE);
  });

  it("does not let an expiring key make a key that outlives it", async () => {
    const expiresAt = new Date(Date.now() + 3600_000);
    const maker = await keyWith([], { expiresAt });
    const inherits = await maker.keys.createApiKey({ name: "no expiry asked" });
    expect(inherits.apiKey?.expireTime?.seconds).toBe(BigInt(Math.floor(expiresAt.getTime() / 1000)));
    expect(
      await failure(
        maker.keys.createApiKey({ name: "later", expireTime: timestampFromDate(new Date(expiresAt.getTime() + 60_000)) }),
      ),
    ).toMatchObject({ code: Code.PermissionDenied, reason: "EXPIRY_NOT_HELD" });
    const sooner = new Date(Date.now() + 600_000);
    const shorter = await maker.keys.createApiKey({ name: "sooner", expireTime: timestampFromDate(sooner) });
    expect(shorter.apiKey?.expireTime?.seconds).toBe(BigInt(Math.floor(sooner.getTime() / 1000)));
  });
});
