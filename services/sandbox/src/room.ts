import type { Knex, Room, RoomModule } from "@onerouter/core";
import type { ProviderAccountStore } from "@onerouter/routing";
import { ensureSandboxDefaults } from "./defaults";
import { startSandboxProvider } from "./server/index";

export interface SandboxRoomDeps {
  knex: Knex;
  accounts: ProviderAccountStore;
  // Where the sandbox server listens; loopback for the embedded product.
  host: string;
  port?: number;
  // Given its sandbox accounts as the room opens.
  defaultTenantId: string;
}

export interface SandboxRoom extends Room {
  // Where the sandbox server listens: the base_url of sandbox accounts that name none.
  url: string;
  // Gives a tenant's test environment its sandbox accounts in each category it has no account in yet.
  ensureDefaults(tenantId: string): Promise<void>;
}

// The built-in provider as a room: its server, run in this process, and the
// accounts every tenant's test environment starts with.
export const sandboxRoom: RoomModule<SandboxRoomDeps, SandboxRoom> = {
  name: "sandbox",
  migrations: [],
  async open({ knex, accounts, host, port, defaultTenantId }) {
    const server = await startSandboxProvider({ host, port });
    const ensureDefaults = (tenantId: string) => ensureSandboxDefaults(knex, accounts, tenantId);
    await ensureDefaults(defaultTenantId);
    return { url: server.url, ensureDefaults, close: () => server.close() };
  },
};
