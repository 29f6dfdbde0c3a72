import { create } from "@bufbuild/protobuf";
import { createApiKey, createTenant } from "@onerouter/admin";
import { RoutingProfileSchema, RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { MasterKeyring, openDatabase, type Database } from "@onerouter/core";
import { newSandboxApiKey } from "@onerouter/sandbox";
import { ProviderAccountStore, RoutingProfileStore } from "@onerouter/routing";
import { allMigrations } from "@onerouter/server";

// A tenant whose payments and SMS go to a sandbox provider running outside
// the product, written straight into the product's database before it starts.

export const chaosMasterKey = Buffer.alloc(32, 11);

export interface ChaosTenant {
  db: Database;
  tenantId: string;
  secret: string;
}

export async function chaosTenant(databaseUrl: string, sandboxUrl: string, settings: Record<string, string> = {}): Promise<ChaosTenant> {
  const db = openDatabase({ databaseUrl });
  await db.migrate(allMigrations);
  const tenant = await createTenant(db.knex, { name: "Chaos", planId: "enterprise" });
  const { secret } = await createApiKey(db.knex, { tenantId: tenant.id, environment: Environment.TEST, name: "chaos", createdBy: "chaos" });
  const accounts = new ProviderAccountStore(db.knex, new MasterKeyring(chaosMasterKey));
  const routing = new RoutingProfileStore(db.knex);
  const scope = { tenantId: tenant.id, environment: "test" as const };
  for (const [category, provider] of [["payments", "sandbox"], ["messaging", "sandbox_sms"]] as const) {
    const account = await accounts.create({
      ...scope,
      category,
      provider,
      displayName: `${provider} outside the product`,
      credentials: { api_key: newSandboxApiKey() },
      settings: { base_url: sandboxUrl, ...settings },
      enabled: true,
    });
    await routing.put(
      { ...scope, category },
      create(RoutingProfileSchema, { strategy: RoutingStrategy.PRIORITY, targets: [{ providerAccountId: account.id }] }),
    );
  }
  return { db, tenantId: tenant.id, secret };
}

// Environment for `onerouter start` on that database.
export function productEnv(databaseUrl: string, dataDir: string, sandboxUrl: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    ONEROUTER_MASTER_KEY: chaosMasterKey.toString("base64"),
    ONEROUTER_DATA_DIR: dataDir,
    // The sandbox and its callbacks live on loopback.
    ONEROUTER_WEBHOOK_ALLOWED_CIDRS: "127.0.0.0/8",
    ONEROUTER_PROVIDER_BASE_URLS: new URL(sandboxUrl).origin,
    ONEROUTER_PROVIDER_ALLOWED_CIDRS: "127.0.0.0/8",
    // The load comes from one client address with one key.
    ONEROUTER_RATE_LIMIT_RPS: "100000",
    ONEROUTER_RATE_LIMIT_BURST: "100000",
  };
}
