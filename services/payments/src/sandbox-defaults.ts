import { ensureSandboxAccounts, type Knex, type ProviderAccountStore } from "@onerouter/core";
import { sandboxConnector } from "./connectors/sandbox/index";

// A tenant's test environment starts with a sandbox payments account, so its
// first CreatePayment works with no setup.
export function ensureSandboxDefaults(knex: Knex, accounts: ProviderAccountStore, tenantId: string): Promise<void> {
  return ensureSandboxAccounts(knex, accounts, tenantId, "payments", [{ provider: sandboxConnector.name, displayName: "Sandbox" }]);
}
