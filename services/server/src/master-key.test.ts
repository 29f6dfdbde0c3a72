import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDefaultTenant } from "@onerouter/admin";
import { loadConfig, MasterKeyring, seal, type Database } from "@onerouter/core";
import { ProviderAccountStore } from "@onerouter/routing";
import { createTestDatabase, describeEachEngine } from "@onerouter/core/testing";
import { activeSecrets, insertEndpoint, type StoredSecret } from "@onerouter/webhooks/testing";
import { allMigrations } from "./app";
import { resolveMasterKeys, rotateMasterKey } from "./master-key";
import { startTestOneRouter } from "../test/index";

// A rotation with the operator's keys (ONEROUTER_MASTER_KEY and
// ONEROUTER_PREVIOUS_MASTER_KEYS), as a Postgres deployment runs it.
describeEachEngine("master key rotation", (engine) => {
  let db: Database;
  beforeAll(async () => {
    db = await createTestDatabase(engine);
    await db.migrate(allMigrations);
  }, 120_000);
  afterAll(async () => db?.close());

  it("re-seals everything under the new key while credentials keep opening, and then needs no old key", async () => {
    const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
    const before = new MasterKeyring(oldKey);
    const { tenant } = await ensureDefaultTenant(db.knex);
    const accounts = new ProviderAccountStore(db.knex, before);
    const scope = { tenantId: tenant.id, environment: "test" as const };
    const account = await accounts.create({
      ...scope,
      provider: "stripe",
      category: "payments",
      displayName: "Stripe",
      credentials: { secret_key: "sk_test_rotate" },
      settings: {},
      enabled: true,
    });
    // A tenant whose data key was wrapped before sealed values named their key.
    const legacyTenant = "ten_legacy_rotation";
    await db.knex("tenants").insert({ id: legacyTenant, name: "Legacy" });
    await db.knex("tenant_data_keys").insert({ tenant_id: legacyTenant, wrapped_key: seal(oldKey, randomBytes(32), `tenant-data-key:${legacyTenant}`) });
    const endpoint = await insertEndpoint(db.knex, before, { tenantId: tenant.id, url: "https://hooks.example.com/x" });

    const config = loadConfig({
      DATABASE_URL: "postgres://unused/x",
      ONEROUTER_MASTER_KEY: newKey.toString("base64"),
      ONEROUTER_PREVIOUS_MASTER_KEYS: oldKey.toString("base64"),
    });
    const during = new MasterKeyring(config.masterKey!, config.previousMasterKeys);
    const reading = new ProviderAccountStore(db.knex, during);
    let rotating = true;
    let reads = 0;
    const reader = (async () => {
      while (rotating) {
        expect((await reading.getWithCredentials(scope, account.id))?.credentials).toEqual({ secret_key: "sk_test_rotate" });
        reads++;
      }
    })();
    const rotation = await rotateMasterKey(db.knex, during, config);
    rotating = false;
    await reader;
    expect(reads).toBeGreaterThan(0);
    expect(rotation).toMatchObject({ keyId: during.currentId, webhookSecrets: 1, retiredKeyIds: [before.currentId] });
    expect(rotation.tenantDataKeys).toBeGreaterThanOrEqual(2);

    const after = new MasterKeyring(newKey);
    expect((await new ProviderAccountStore(db.knex, after).getWithCredentials(scope, account.id))?.credentials).toEqual({
      secret_key: "sk_test_rotate",
    });
    const row = (await db.knex("webhook_endpoints").where({ id: endpoint.id }).first()) as { secrets: StoredSecret[] | string };
    const secrets = typeof row.secrets === "string" ? (JSON.parse(row.secrets) as StoredSecret[]) : row.secrets;
    expect(activeSecrets(after, endpoint.id, secrets)).toEqual([endpoint.secret]);
    const wrapped = (await db.knex("tenant_data_keys").select("wrapped_key")) as { wrapped_key: string }[];
    expect(wrapped.every((r) => after.isCurrent(r.wrapped_key))).toBe(true);
    // Run again, it has nothing left to do.
    expect(await rotateMasterKey(db.knex, after, config)).toMatchObject({ tenantDataKeys: 0, webhookSecrets: 0 });
  }, 60_000);
});

describe("master key rotation in the data folder", () => {
  it("runs rotations asked for at once one after another, losing no key", async () => {
    const app = await startTestOneRouter();
    try {
      const scope = { tenantId: app.defaultTenantId, environment: "test" as const };
      const [account] = (await app.accounts.query(scope).select("id")) as { id: string }[];
      const rotations = await Promise.all([1, 2, 3].map(() => rotateMasterKey(app.db.knex, app.masterKeys, app.config)));
      expect(new Set(rotations.map((r) => r.keyId)).size).toBe(3);
      expect(existsSync(path.join(app.config.dataDir, "master.key.previous"))).toBe(false);
      // Only the key now in the folder is needed.
      const fromFolder = new ProviderAccountStore(app.db.knex, resolveMasterKeys(app.config));
      expect((await fromFolder.getWithCredentials(scope, account!.id))?.credentials).toBeDefined();
    } finally {
      await app.close();
    }
  }, 120_000);
});
