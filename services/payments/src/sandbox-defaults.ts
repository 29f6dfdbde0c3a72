import { ensureSandboxAccounts } from "@onerouter/sandbox";
import { type Knex } from "@onerouter/core";
import { type ProviderAccountStore } from "@onerouter/routing";
import { sandboxConnector } from "./connectors/sandbox/index";

// A tenant's test environment starts with a sandbox payments account, so its
// first CreatePayment works with no setup.
export function ensureSandboxDefaults(knex: Knex, accounts: ProviderAccountStore, tenantId: string): Promise<void> {
  return ensureSandboxAccounts(knex, accounts, tenantId, "payments", [{ provider: sandboxConnector.name, displayName: "Sandbox" }]);
}
