import { Category } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import type { Knex } from "knex";
import { maskSecret, newDataKey, open, seal } from "@onerouter/core";
import type { MasterKeyring } from "@onerouter/core";
import { newId } from "@onerouter/core";
import { jsonColumn, TenantCache, type ChangeNotices } from "@onerouter/core";
import { routingChangeChannel } from "./migrations";

// Provider accounts are shared by the admin API (which manages them) and the
// payments and messaging engines (which call providers with them), so their
// store lives here. Credentials are encrypted at rest with the tenant's data
// key and decrypted only in memory, for a provider call.

export type ProviderCategory = "payments" | "messaging";
export type EnvironmentName = "test" | "live";

// The API speaks the Category enum; storage and provider descriptors use names.
export function categoryFromName(name: ProviderCategory): Category {
  return name === "messaging" ? Category.MESSAGING : Category.PAYMENTS;
}

export interface ProviderAccountRecord {
  id: string;
  tenantId: string;
  environment: EnvironmentName;
  provider: string;
  category: ProviderCategory;
  displayName: string;
  settings: Record<string, string>;
  enabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface ProviderAccountWithCredentials extends ProviderAccountRecord {
  credentials: Record<string, string>;
}

interface Row {
  id: string;
  tenant_id: string;
  environment: EnvironmentName;
  provider: string;
  category: ProviderCategory;
  display_name: string;
  credentials_sealed: string;
  credential_hints: Record<string, string> | string;
  settings: Record<string, string> | string;
  enabled: boolean;
  created_at: Date;
  updated_at: Date;
}

function toRecord(row: Row): ProviderAccountRecord & { credentialHints: Record<string, string> } {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    environment: row.environment,
    provider: row.provider,
    category: row.category,
    displayName: row.display_name,
    settings: jsonColumn(row.settings),
    enabled: row.enabled,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    credentialHints: jsonColumn(row.credential_hints),
  };
}

// Accounts kept by id for inbound webhooks: bounded, since the ids come from
// URLs anyone may call (ids that name no account are never kept).
const accountsByIdCacheSize = 10_000;

// With change notices, the decrypted accounts and data keys read outside a
// transaction are kept in memory until the tenant's routing changes.
export class ProviderAccountStore {
  private readonly accountsCache: TenantCache<ProviderAccountWithCredentials[]> | undefined;
  private readonly accountsByIdCache: TenantCache<ProviderAccountWithCredentials> | undefined;
  private readonly keysCache: TenantCache<Buffer> | undefined;

  constructor(
    private readonly knex: Knex,
    private readonly masterKeys: MasterKeyring,
    notices?: ChangeNotices,
  ) {
    this.accountsCache = notices && new TenantCache(notices, routingChangeChannel);
    this.accountsByIdCache = notices && new TenantCache(notices, routingChangeChannel, accountsByIdCacheSize);
    this.keysCache = notices && new TenantCache(notices, routingChangeChannel);
  }

  // The tenant's data key, made on first use; it is only ever stored wrapped.
  private async dataKey(trx: Knex, tenantId: string): Promise<Buffer> {
    if (this.keysCache && trx === this.knex) return this.keysCache.get(tenantId, tenantId, () => this.readDataKey(trx, tenantId));
    return this.readDataKey(trx, tenantId);
  }

  private async readDataKey(trx: Knex, tenantId: string): Promise<Buffer> {
    const existing = (await trx("tenant_data_keys").where({ tenant_id: tenantId }).first()) as
      | { wrapped_key: string }
      | undefined;
    if (existing) return this.masterKeys.open(existing.wrapped_key, `tenant-data-key:${tenantId}`);
    const key = newDataKey();
    await trx("tenant_data_keys")
      .insert({ tenant_id: tenantId, wrapped_key: this.masterKeys.seal(key, `tenant-data-key:${tenantId}`) })
      .onConflict("tenant_id")
      .ignore();
    // Another writer may have won the race; read back whichever key is stored.
    const stored = (await trx("tenant_data_keys").where({ tenant_id: tenantId }).first()) as { wrapped_key: string };
    return this.masterKeys.open(stored.wrapped_key, `tenant-data-key:${tenantId}`);
  }

  private async sealCredentials(trx: Knex, tenantId: string, accountId: string, credentials: Record<string, string>) {
    const key = await this.dataKey(trx, tenantId);
    return seal(key, Buffer.from(JSON.stringify(credentials)), `provider-account:${accountId}`);
  }

  async create(input: {
    tenantId: string;
    environment: EnvironmentName;
    provider: string;
    category: ProviderCategory;
    displayName: string;
    credentials: Record<string, string>;
    settings: Record<string, string>;
    enabled: boolean;
  }, trx: Knex = this.knex) {
    const id = newId("pa");
    const sealed = await this.sealCredentials(trx, input.tenantId, id, input.credentials);
    const [row] = (await trx("provider_accounts")
      .insert({
        id,
        tenant_id: input.tenantId,
        environment: input.environment,
        provider: input.provider,
        category: input.category,
        display_name: input.displayName,
        credentials_sealed: sealed,
        credential_hints: JSON.stringify(hints(input.credentials)),
        settings: JSON.stringify(input.settings),
        enabled: input.enabled,
      })
      .returning("*")) as Row[];
    return toRecord(row!);
  }

  async get(scope: { tenantId: string; environment: EnvironmentName }, id: string) {
    const row = (await this.knex("provider_accounts")
      .where({ id, tenant_id: scope.tenantId, environment: scope.environment })
      .first()) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  // Where an account belongs, whatever the tenant: an inbound webhook's URL
  // names nothing but the account.
  async locate(id: string): Promise<{ tenantId: string; environment: EnvironmentName; provider: string; category: ProviderCategory } | undefined> {
    const row = (await this.knex("provider_accounts").where({ id }).first("tenant_id", "environment", "provider", "category")) as
      | Pick<Row, "tenant_id" | "environment" | "provider" | "category">
      | undefined;
    return row && { tenantId: row.tenant_id, environment: row.environment, provider: row.provider, category: row.category };
  }

  // Any tenant's account with its credentials, for an inbound webhook, whose
  // URL names nothing but the account: one statement, or none while cached.
  async findWithCredentials(id: string): Promise<ProviderAccountWithCredentials | undefined> {
    if (!this.accountsByIdCache) return this.readByIdWithCredentials(id);
    return this.accountsByIdCache.getFound(id, () => this.readByIdWithCredentials(id), (account) => account.tenantId);
  }

  private async readByIdWithCredentials(id: string) {
    return this.withCredentials((await this.knex("provider_accounts").where({ id }).first()) as Row | undefined);
  }

  // For a provider call only: the decrypted credentials never leave memory.
  async getWithCredentials(scope: { tenantId: string; environment: EnvironmentName }, id: string) {
    return this.withCredentials(
      (await this.knex("provider_accounts").where({ id, tenant_id: scope.tenantId, environment: scope.environment }).first()) as Row | undefined,
    );
  }

  // One account's row opened with its tenant's data key.
  private async withCredentials(row: Row | undefined) {
    return row && this.decrypt(row, await this.dataKey(this.knex, row.tenant_id));
  }

  async listWithCredentials(scope: { tenantId: string; environment: EnvironmentName; category: ProviderCategory }) {
    if (!this.accountsCache) return this.readWithCredentials(scope);
    return this.accountsCache.get(scope.tenantId, `${scope.tenantId}/${scope.environment}/${scope.category}`, () => this.readWithCredentials(scope));
  }

  private async readWithCredentials(scope: { tenantId: string; environment: EnvironmentName; category: ProviderCategory }) {
    const rows = (await this.knex("provider_accounts")
      .where({ tenant_id: scope.tenantId, environment: scope.environment, category: scope.category, enabled: true })
      .orderBy("created_at")) as Row[];
    if (rows.length === 0) return [];
    // One tenant, so one data key opens every account.
    const key = await this.dataKey(this.knex, scope.tenantId);
    return rows.map((r) => this.decrypt(r, key));
  }

  // Every enabled account of the category, whatever the tenant and
  // environment, for the background workers (health probes, price sync);
  // `providers` narrows them.
  async listAllEnabled(category: ProviderCategory, providers?: readonly string[]): Promise<ProviderAccountWithCredentials[]> {
    let query = this.knex("provider_accounts").where({ category, enabled: true });
    if (providers) query = query.whereIn("provider", providers);
    const rows = (await query.orderBy(["tenant_id", "created_at"])) as Row[];
    const keys = new Map<string, Buffer>();
    const accounts: ProviderAccountWithCredentials[] = [];
    for (const row of rows) {
      let key = keys.get(row.tenant_id);
      if (!key) {
        key = await this.dataKey(this.knex, row.tenant_id);
        keys.set(row.tenant_id, key);
      }
      accounts.push(this.decrypt(row, key));
    }
    return accounts;
  }

  private decrypt(row: Row, key: Buffer): ProviderAccountWithCredentials {
    const credentials = JSON.parse(
      open(key, row.credentials_sealed, `provider-account:${row.id}`).toString("utf8"),
    ) as Record<string, string>;
    const { credentialHints: _hints, ...record } = toRecord(row);
    return { ...record, credentials };
  }

  query(scope: { tenantId: string; environment: EnvironmentName }) {
    return this.knex("provider_accounts").where({ tenant_id: scope.tenantId, environment: scope.environment });
  }

  fromRow(row: unknown) {
    return toRecord(row as Row);
  }

  async update(
    scope: { tenantId: string; environment: EnvironmentName },
    id: string,
    changes: { displayName?: string; credentials?: Record<string, string>; settings?: Record<string, string>; enabled?: boolean },
    outer: Knex = this.knex,
  ) {
    return outer.transaction(async (trx) => {
      const patch: Record<string, unknown> = { updated_at: new Date() };
      if (changes.displayName !== undefined) patch.display_name = changes.displayName;
      if (changes.settings !== undefined) patch.settings = JSON.stringify(changes.settings);
      if (changes.enabled !== undefined) patch.enabled = changes.enabled;
      if (changes.credentials !== undefined) {
        patch.credentials_sealed = await this.sealCredentials(trx, scope.tenantId, id, changes.credentials);
        patch.credential_hints = JSON.stringify(hints(changes.credentials));
      }
      const [row] = (await trx("provider_accounts")
        .where({ id, tenant_id: scope.tenantId, environment: scope.environment })
        .update(patch)
        .returning("*")) as Row[];
      return row ? toRecord(row) : undefined;
    });
  }

  async delete(scope: { tenantId: string; environment: EnvironmentName }, id: string, trx: Knex = this.knex): Promise<boolean> {
    // knex's PGlite dialect answers delete() with a result object rather than
    // a count, so ask for the deleted ids instead.
    const deleted = await trx("provider_accounts")
      .where({ id, tenant_id: scope.tenantId, environment: scope.environment })
      .delete()
      .returning("id");
    return deleted.length > 0;
  }
}

function hints(credentials: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(credentials).map(([k, v]) => [k, maskSecret(v)]));
}
