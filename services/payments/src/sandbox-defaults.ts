import { create } from "@bufbuild/protobuf";
import { RoutingProfileSchema, RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { Category, Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { RoutingProfileStore, type Knex, type ProviderAccountStore } from "@onerouter/core";
import { newSandboxApiKey, sandboxConnector } from "./connectors/sandbox/index";

// A tenant's test environment starts with a sandbox account and a routing
// profile that uses it, so its first CreatePayment works with no setup.
// Does nothing once the test environment has any payments account.
export async function ensureSandboxDefaults(knex: Knex, accounts: ProviderAccountStore, tenantId: string): Promise<void> {
  const scope = { tenantId, environment: "test", category: "payments" } as const;
  await knex.transaction(async (trx) => {
    // Concurrent callers for one tenant wait here, so only one creates.
    await trx("tenants").where({ id: tenantId }).forUpdate().first();
    const existing = await trx("provider_accounts")
      .where({ tenant_id: tenantId, environment: scope.environment, category: scope.category })
      .first("id");
    if (existing) return;
    const account = await accounts.create(
      {
        ...scope,
        provider: sandboxConnector.name,
        displayName: "Sandbox",
        credentials: { api_key: newSandboxApiKey() },
        settings: {},
        enabled: true,
      },
      trx,
    );
    const profiles = new RoutingProfileStore(trx);
    if (await profiles.get(scope, trx)) return;
    await profiles.put(
      scope,
      create(RoutingProfileSchema, {
        category: Category.PAYMENTS,
        environment: Environment.TEST,
        strategy: RoutingStrategy.PRIORITY,
        targets: [{ providerAccountId: account.id }],
      }),
      trx,
    );
  });
}
