import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ApiKeyLimitsSchema, ApiKeySchema, type ApiKey } from "@onerouter/client/gen/onerouter/admin/v1/api_keys_pb";
import type { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import type { Knex, PageRequest } from "@onerouter/core";
import { notFound } from "@onerouter/core/errors";
import { newId } from "@onerouter/core/ids";
import { environmentFromName, environmentName, generateApiKey } from "@onerouter/core/keys";
import { paginate } from "@onerouter/core/pagination";
import { recordAudit } from "./audit";

export interface ApiKeyRow {
  id: string;
  tenant_id: string;
  name: string;
  environment: string;
  prefix: string;
  scopes: string[] | string;
  created_by: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
  expires_at: Date | null;
  requests_per_second: number;
  burst: number;
  requests_per_day: number | string;
}

// A key's own limits as stored; zero means none.
export interface KeyLimits {
  requestsPerSecond: number;
  burst: number;
  requestsPerDay: number;
}

const limitColumns = (limits: KeyLimits) => ({
  requests_per_second: limits.requestsPerSecond,
  burst: limits.burst,
  requests_per_day: limits.requestsPerDay,
});

export function storedScopes(row: Pick<ApiKeyRow, "scopes">): string[] {
  return typeof row.scopes === "string" ? (JSON.parse(row.scopes) as string[]) : row.scopes;
}

export function toApiKey(row: ApiKeyRow): ApiKey {
  return create(ApiKeySchema, {
    id: row.id,
    name: row.name,
    environment: environmentFromName(row.environment),
    prefix: row.prefix,
    scopes: storedScopes(row),
    createTime: timestampFromDate(new Date(row.created_at)),
    lastUseTime: row.last_used_at ? timestampFromDate(new Date(row.last_used_at)) : undefined,
    revokeTime: row.revoked_at ? timestampFromDate(new Date(row.revoked_at)) : undefined,
    expireTime: row.expires_at ? timestampFromDate(new Date(row.expires_at)) : undefined,
    limits: create(ApiKeyLimitsSchema, {
      requestsPerSecond: row.requests_per_second,
      burst: row.burst,
      requestsPerDay: BigInt(row.requests_per_day),
    }),
  });
}

export async function createApiKey(
  knex: Knex,
  input: {
    tenantId: string;
    environment: Environment;
    name: string;
    scopes?: string[];
    expiresAt?: Date;
    limits?: KeyLimits;
    createdBy: string;
    ipAddress?: string;
  },
): Promise<{ row: ApiKeyRow; secret: string }> {
  const key = generateApiKey(input.environment);
  return knex.transaction(async (trx) => {
    const [row] = (await trx("api_keys")
      .insert({
        id: newId("key"),
        tenant_id: input.tenantId,
        name: input.name,
        environment: environmentName(input.environment),
        prefix: key.prefix,
        key_hash: key.hash,
        scopes: JSON.stringify(input.scopes ?? []),
        created_by: input.createdBy,
        expires_at: input.expiresAt ?? null,
        ...(input.limits && limitColumns(input.limits)),
      })
      .returning("*")) as ApiKeyRow[];
    await recordAudit(trx, {
      tenantId: input.tenantId,
      actor: input.createdBy,
      action: "api_key.create",
      resourceType: "api_key",
      resourceId: row!.id,
      environment: input.environment,
      ipAddress: input.ipAddress,
      metadata: { name: input.name, prefix: key.prefix },
    });
    return { row: row!, secret: key.secret };
  });
}

// Keys with their last use, which the gatekeeper records in api_key_usage.
function withLastUse(query: Knex.QueryBuilder): Knex.QueryBuilder {
  return query.leftJoin("api_key_usage", "api_key_usage.api_key_id", "api_keys.id").select("api_keys.*", "api_key_usage.last_used_at");
}

export async function listApiKeys(
  knex: Knex,
  scope: { tenantId: string; environment: Environment },
  page: PageRequest & { showRevoked: boolean },
) {
  const query = withLastUse(knex("api_keys")).where({ "api_keys.tenant_id": scope.tenantId, "api_keys.environment": environmentName(scope.environment) });
  if (!page.showRevoked) query.whereNull("api_keys.revoked_at");
  return paginate<ApiKeyRow>(query, page, "api_keys");
}

type KeyChangeScope = { tenantId: string; environment: Environment; actor: string; ipAddress?: string };

// Changes one key of the caller's tenant and environment, audited in the same
// transaction: `authorize` sees the key first and throws to refuse; `decide`
// answers the columns to set and the audit entry, or nothing to leave it be.
async function changeApiKey(
  knex: Knex,
  scope: KeyChangeScope,
  id: string,
  authorize: (existing: ApiKeyRow) => void,
  decide: (existing: ApiKeyRow) => { update: Record<string, unknown>; action: string; metadata?: Record<string, string> } | undefined,
): Promise<ApiKeyRow> {
  return knex.transaction(async (trx) => {
    const where = { id, tenant_id: scope.tenantId, environment: environmentName(scope.environment) };
    const existing = (await withLastUse(trx("api_keys")).where(where).forUpdate("api_keys").first()) as ApiKeyRow | undefined;
    if (!existing) throw notFound("api_key", id);
    authorize(existing);
    const decided = decide(existing);
    if (!decided) return existing;
    const [changed] = (await trx("api_keys").where(where).update(decided.update).returning("*")) as ApiKeyRow[];
    await recordAudit(trx, {
      tenantId: scope.tenantId,
      actor: scope.actor,
      action: decided.action,
      resourceType: "api_key",
      resourceId: id,
      environment: scope.environment,
      ipAddress: scope.ipAddress,
      metadata: decided.metadata,
    });
    return { ...changed!, last_used_at: existing.last_used_at };
  });
}

// `authorize` sees the key before it is revoked and throws to refuse.
export async function revokeApiKey(
  knex: Knex,
  scope: KeyChangeScope,
  id: string,
  authorize: (existing: ApiKeyRow) => void,
): Promise<ApiKeyRow> {
  return changeApiKey(knex, scope, id, authorize, (existing) =>
    existing.revoked_at ? undefined : { update: { revoked_at: new Date() }, action: "api_key.revoke" },
  );
}

// Renames a key or changes its own limits; `authorize` sees the key first
// and throws to refuse.
export async function updateApiKey(
  knex: Knex,
  scope: KeyChangeScope,
  id: string,
  change: { name?: string; limits?: KeyLimits },
  authorize: (existing: ApiKeyRow) => void,
): Promise<ApiKeyRow> {
  const metadata: Record<string, string> = {};
  if (change.name !== undefined) metadata.name = change.name;
  if (change.limits) {
    metadata.requests_per_second = String(change.limits.requestsPerSecond);
    metadata.burst = String(change.limits.burst);
    metadata.requests_per_day = String(change.limits.requestsPerDay);
  }
  const update = { ...(change.name !== undefined && { name: change.name }), ...(change.limits && limitColumns(change.limits)) };
  return changeApiKey(knex, scope, id, authorize, () => ({ update, action: "api_key.update", metadata }));
}
