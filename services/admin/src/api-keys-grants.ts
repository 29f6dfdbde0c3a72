import { Code } from "@connectrpc/connect";
import { heldScopes } from "@onerouter/client";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { apiError, environmentName, type Caller, type Knex } from "@onerouter/core";
import { storedScopes, type ApiKeyRow } from "./api-keys";

// What a caller may hand on to the keys it creates, and which keys it may
// revoke: never more than it holds itself, so no chain of keys can grow.
// This is the one place that decides it. An API key holds its scopes (none
// named: all of them), its environment and its lifetime; a console session
// holds what its member's role grants (role-matrix.ts).
export interface Authority {
  environment: Environment;
  // As the key stores them: empty for an unrestricted key.
  scopes: string[];
  expiresAt?: Date;
}

export async function authorityOf(knex: Knex, caller: Caller): Promise<Authority> {
  // A member holds what the role grants, in the environment of the call, for no set time.
  if (caller.member) return { environment: caller.environment, scopes: caller.scopes };
  const key = (await knex("api_keys").where({ id: caller.apiKeyId, tenant_id: caller.tenantId }).first("expires_at")) as
    | Pick<ApiKeyRow, "expires_at">
    | undefined;
  return {
    environment: caller.environment,
    scopes: caller.scopes,
    expiresAt: key?.expires_at ? new Date(key.expires_at) : undefined,
  };
}

function scopeNotHeld(missing: string[], message: string) {
  return apiError(Code.PermissionDenied, "SCOPE_NOT_HELD", `${message}: ${missing.join(", ")}`, {
    missing_scopes: missing.join(","),
  });
}

// A key asked for with no scopes gets exactly its maker's: all of them only
// when the maker is unrestricted.
export function grantScopes(authority: Authority, requested: string[]): string[] {
  if (requested.length === 0) return [...authority.scopes];
  const held = heldScopes(authority.scopes);
  const missing = requested.filter((scope) => !held.includes(scope));
  if (missing.length > 0) throw scopeNotHeld(missing, "a key can only grant scopes it holds");
  return requested;
}

// Unspecified means the maker's environment; a key makes keys in no other.
export function grantEnvironment(authority: Authority, requested: Environment): Environment {
  if (requested === Environment.UNSPECIFIED || requested === authority.environment) return authority.environment;
  throw apiError(Code.PermissionDenied, "ENVIRONMENT_MISMATCH", "a key can only create keys in its own environment", {
    environment: environmentName(authority.environment),
  });
}

// No expiry asked for means the maker's; a key made by an expiring key
// never outlives it.
export function grantExpiry(authority: Authority, requested: Date | undefined): Date | undefined {
  if (!authority.expiresAt) return requested;
  if (!requested) return authority.expiresAt;
  if (requested.getTime() > authority.expiresAt.getTime()) {
    throw apiError(Code.PermissionDenied, "EXPIRY_NOT_HELD", "a key cannot create a key that outlives it", {
      max_expire_time: authority.expiresAt.toISOString(),
    });
  }
  return requested;
}

// Revoking a key that holds more than the caller would let a narrow key shut
// out a broader one, such as the owner's.
export function assertMayRevoke(authority: Authority, target: ApiKeyRow): void {
  assertHoldsScopesOf(authority, target, "revoke");
}

// Likewise for renaming a key or changing its limits. Limits are not
// grants: whoever may change a key may lift them, as it could make a key
// without them.
export function assertMayChange(authority: Authority, target: ApiKeyRow): void {
  assertHoldsScopesOf(authority, target, "change");
}

function assertHoldsScopesOf(authority: Authority, target: ApiKeyRow, verb: string): void {
  const held = heldScopes(authority.scopes);
  const missing = heldScopes(storedScopes(target)).filter((scope) => !held.includes(scope));
  if (missing.length > 0) throw scopeNotHeld(missing, `a key can only ${verb} keys whose scopes it holds`);
}
