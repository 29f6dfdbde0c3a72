import { ensureSandboxAccounts } from "@onerouter/sandbox";
import { type Knex } from "@onerouter/core";
import { type ProviderAccountStore } from "@onerouter/routing";
import { sandboxEmailProvider, sandboxSmsProvider } from "./connectors/sandbox/index";

// A tenant's test environment starts with a sandbox SMS and a sandbox email
// account, so its first SendMessage works with no setup.
export function ensureMessagingSandboxDefaults(knex: Knex, accounts: ProviderAccountStore, tenantId: string): Promise<void> {
  return ensureSandboxAccounts(knex, accounts, tenantId, "messaging", [
    { provider: sandboxSmsProvider, displayName: "Sandbox SMS" },
    { provider: sandboxEmailProvider, displayName: "Sandbox email" },
  ]);
}
