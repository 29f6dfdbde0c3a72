import { create } from "@bufbuild/protobuf";
import { RoutingProfileSchema, RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import type { Knex } from "knex";
import { categoryFromName, RoutingProfileStore, type ProviderAccountStore, type ProviderCategory } from "@onerouter/routing";
import { newSandboxApiKey } from "./client";

// The sandbox's provider names, one per connector that speaks to it.
export const sandboxProviders: { readonly payments: string; readonly sms: string; readonly email: string } = {
  payments: "sandbox",
  sms: "sandbox_sms",
  email: "sandbox_email",
};

// The accounts a tenant's test environment starts with, per category, in
// the order its first routing profile uses them.
const defaultAccounts: { category: ProviderCategory; accounts: { provider: string; displayName: string }[] }[] = [
  { category: "payments", accounts: [{ provider: sandboxProviders.payments, displayName: "Sandbox" }] },
  {
    category: "messaging",
    accounts: [
      { provider: sandboxProviders.sms, displayName: "Sandbox SMS" },
      { provider: sandboxProviders.email, displayName: "Sandbox email" },
    ],
  },
];

// Gives a tenant's test environment its sandbox accounts in each category it
// has no account in yet, so its first CreatePayment or SendMessage works with
// no setup.
export async function ensureSandboxDefaults(knex: Knex, accounts: ProviderAccountStore, tenantId: string): Promise<void> {
  for (const { category, accounts: sandboxes } of defaultAccounts) {
    await ensureSandboxAccounts(knex, accounts, tenantId, category, sandboxes);
  }
}

// Creates built-in sandbox accounts in a category, and a routing profile
// that uses them in order. Does nothing once the test environment has any
// account of that category.
async function ensureSandboxAccounts(
  knex: Knex,
  accounts: ProviderAccountStore,
  tenantId: string,
  category: ProviderCategory,
  sandboxes: readonly { provider: string; displayName: string }[],
): Promise<void> {
  const scope = { tenantId, environment: "test", category } as const;
  await knex.transaction(async (trx) => {
    // Concurrent callers for one tenant wait here, so only one creates.
    await trx("tenants").where({ id: tenantId }).forUpdate().first();
    const existing = await trx("provider_accounts")
      .where({ tenant_id: tenantId, environment: scope.environment, category })
      .first("id");
    if (existing) return;
    const created = [];
    for (const { provider, displayName } of sandboxes) {
      const account = await accounts.create(
        { ...scope, provider, displayName, credentials: { api_key: newSandboxApiKey() }, settings: {}, enabled: true },
        trx,
      );
      created.push(account);
    }
    const profiles = new RoutingProfileStore(trx);
    if (await profiles.get(scope, trx)) return;
    await profiles.put(
      scope,
      create(RoutingProfileSchema, {
        category: categoryFromName(category),
        environment: Environment.TEST,
        strategy: RoutingStrategy.PRIORITY,
        targets: created.map((account) => ({ providerAccountId: account.id })),
      }),
      trx,
    );
  });
}
