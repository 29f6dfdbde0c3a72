import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, expect, it } from "vitest";
import { adminMigrations } from "@onerouter/admin";
import { RoutingProfileSchema, RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { MasterKeyring, newDataKey, openChangeNotices, openDatabase, type ChangeNotices, type Database } from "@onerouter/core";
import { createTestDatabaseUrl, describeEachEngine } from "@onerouter/core/testing";
import { routingMigrations } from "./migrations";
import { ProviderAccountStore } from "./provider-accounts";
import { RoutingProfileStore } from "./routing-profiles";

// Two instances of the routing stores share one database, as two processes
// of the product do (one process on PGlite, which a data folder allows one
// of): what one instance caches, the other's changes make it read again.
describeEachEngine("routing caches", (engine) => {
  const scope = { tenantId: "ten_cache", environment: "test", category: "payments" } as const;
  const masterKeys = new MasterKeyring(newDataKey());
  let reader: { db: Database; notices: ChangeNotices; accounts: ProviderAccountStore; profiles: RoutingProfileStore };
  let writer: { db: Database; notices: ChangeNotices; accounts: ProviderAccountStore; profiles: RoutingProfileStore };
  let statements = 0;

  async function instance(db: Database) {
    const notices = await openChangeNotices(db);
    return { db, notices, accounts: new ProviderAccountStore(db.knex, masterKeys, notices), profiles: new RoutingProfileStore(db.knex, notices) };
  }

  beforeAll(async () => {
    const url = engine === "postgres" ? await createTestDatabaseUrl() : undefined;
    const first = openDatabase({ databaseUrl: url });
    await first.migrate([...adminMigrations, ...routingMigrations]);
    await first.knex("tenants").insert({ id: scope.tenantId, name: "Shop" });
    reader = await instance(first);
    writer = await instance(url ? openDatabase({ databaseUrl: url }) : first);
    reader.db.knex.on("query", () => (statements += 1));
  }, 120_000);
  afterAll(async () => {
    await reader?.notices.close();
    await writer?.notices.close();
    await reader?.db.close();
    if (writer?.db !== reader?.db) await writer?.db.close();
  });

  it("reads accounts and profiles once, and again after another instance changes them", async () => {
    const account = await writer.accounts.create({
      ...scope,
      provider: "sandbox",
      displayName: "Sandbox",
      credentials: { api_key: "sk_one" },
      settings: {},
      enabled: true,
    });
    await expect.poll(() => reader.accounts.listWithCredentials(scope)).toHaveLength(1);
    expect(await reader.profiles.get(scope)).toBeUndefined();

    // Once the notices of the writes above have arrived, reads send nothing.
    const statementsOfReads = async () => {
      const before = statements;
      expect((await reader.accounts.listWithCredentials(scope))[0]?.credentials).toEqual({ api_key: "sk_one" });
      expect(await reader.profiles.get(scope)).toBeUndefined();
      return statements - before;
    };
    await expect.poll(statementsOfReads).toBe(0);

    await writer.accounts.update(scope, account.id, { credentials: { api_key: "sk_two" } });
    await expect.poll(async () => (await reader.accounts.listWithCredentials(scope))[0]?.credentials).toEqual({ api_key: "sk_two" });
    await writer.accounts.update(scope, account.id, { enabled: false });
    await expect.poll(() => reader.accounts.listWithCredentials(scope)).toHaveLength(0);

    await writer.profiles.put(scope, create(RoutingProfileSchema, { strategy: RoutingStrategy.PRIORITY, failoverOnDecline: true }));
    await expect.poll(async () => (await reader.profiles.get(scope))?.failoverOnDecline).toBe(true);
  });

  it("sees a change written straight to the table, outside the stores", async () => {
    await reader.accounts.listWithCredentials(scope);
    await writer.db.knex("provider_accounts").where({ tenant_id: scope.tenantId }).update({ enabled: true });
    await expect.poll(() => reader.accounts.listWithCredentials(scope)).toHaveLength(1);
  });

  it("serves a webhook's account by id until another instance rotates or deletes it, and keeps no unknown id", async () => {
    const account = await writer.accounts.create({
      ...scope,
      provider: "sandbox",
      displayName: "Hooks",
      credentials: { api_key: "sk_old" },
      settings: {},
      enabled: true,
    });
    const credentialsOf = async () => (await reader.accounts.findWithCredentials(account.id))?.credentials;
    const statementsOf = async (read: () => Promise<unknown>) => {
      const before = statements;
      await read();
      return statements - before;
    };
    await expect.poll(credentialsOf).toEqual({ api_key: "sk_old" });
    await expect.poll(() => statementsOf(credentialsOf)).toBe(0);
    // An id that names no account is read each time, never kept.
    expect(await statementsOf(() => reader.accounts.findWithCredentials("pa_unknown"))).toBe(1);
    expect(await statementsOf(() => reader.accounts.findWithCredentials("pa_unknown"))).toBe(1);

    await writer.accounts.update(scope, account.id, { credentials: { api_key: "sk_new" } });
    await expect.poll(credentialsOf).toEqual({ api_key: "sk_new" });
    await writer.accounts.delete(scope, account.id);
    await expect.poll(() => reader.accounts.findWithCredentials(account.id)).toBeUndefined();
  });

  it("keeps nothing while it hears no notices", async () => {
    await reader.notices.close();
    expect(reader.notices.live).toBe(false);
    const before = statements;
    await reader.accounts.listWithCredentials(scope);
    await reader.accounts.listWithCredentials(scope);
    expect(statements - before).toBeGreaterThanOrEqual(2);
  });
});
