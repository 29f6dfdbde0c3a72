import { Code } from "@connectrpc/connect";
import { apiError, hashApiKey, hashesEqual, parseApiKey, environmentFromName, TenantCache, type Caller, type ChangeNotices, type Knex } from "@onerouter/core";
import { apiKeyChangeChannel } from "./api-key-notices";
import { RecentSet } from "./recent-set";
import { tenantStanding, type TenantStandingRow } from "./tenant-standing";

// Turns an Authorization header into a Caller, or an UNAUTHENTICATED error
// whose reason says what is wrong. One implementation serves the in-process
// interceptor and Envoy's ext_authz front.

interface ApiKeyRow extends TenantStandingRow {
  id: string;
  tenant_id: string;
  environment: string;
  key_hash: string;
  scopes: string[] | string;
  revoked_at: Date | null;
  expires_at: Date | null;
  last_used_at: Date | null;
  requests_per_second: number;
  burst: number;
  requests_per_day: number | string;
}

// A key's own limits (zero: none), applied besides the server's and the plan's.
export interface ApiKeyLimits {
  requestsPerSecond: number;
  burst: number;
  requestsPerDay: number;
}

export function keyLimitsOf(row: { requests_per_second: number; burst: number; requests_per_day: number | string }): ApiKeyLimits {
  return { requestsPerSecond: row.requests_per_second, burst: row.burst, requestsPerDay: Number(row.requests_per_day) };
}

// A caller as the gatekeeper learns it: with its key's own limits when it is a key.
export interface AuthenticatedCaller extends Caller {
  keyLimits?: ApiKeyLimits;
}

export class ApiKeyAuthenticator {
  // Hashes the database did not know a moment ago: asking again for the same
  // one would only cost a lookup. A new key's hash has never been seen, so
  // remembering misses never hides a key that exists.
  private readonly unknownHashes: RecentSet;
  // Known keys, when change notices tell this process of every change.
  private readonly known: TenantCache<ApiKeyRow> | undefined;

  constructor(
    private readonly knex: Knex,
    unknownKeyCache: { ttlMs: number; maxSize: number } = { ttlMs: 60_000, maxSize: 10_000 },
    notices?: ChangeNotices,
  ) {
    this.unknownHashes = new RecentSet(unknownKeyCache.ttlMs, unknownKeyCache.maxSize);
    this.known = notices && new TenantCache(notices, apiKeyChangeChannel, unknownKeyCache.maxSize);
  }

  async authenticate(authorization: string | null): Promise<AuthenticatedCaller> {
    if (!authorization) {
      throw apiError(Code.Unauthenticated, "API_KEY_MISSING", "send your API key as Authorization: Bearer or_test_...");
    }
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    const secret = match?.[1];
    const parsed = secret ? parseApiKey(secret) : undefined;
    if (!secret || !parsed) {
      throw apiError(
        Code.Unauthenticated,
        "API_KEY_MALFORMED",
        "the Authorization header must be Bearer or_test_<key> or Bearer or_live_<key>",
      );
    }
    const hash = hashApiKey(secret);
    if (this.unknownHashes.has(hash)) throw unknownKey();
    const row = this.known ? await this.known.getFound(hash, () => this.lookUp(hash), (found) => found.tenant_id) : await this.lookUp(hash);
    // The lookup is by hash; the constant-time compare keeps the final check
    // independent of how much of the hash matched.
    if (!row || !hashesEqual(row.key_hash, hash)) {
      this.unknownHashes.add(hash);
      throw unknownKey();
    }
    if (row.revoked_at) {
      throw apiError(Code.Unauthenticated, "API_KEY_REVOKED", "this API key was revoked", { api_key_id: row.id });
    }
    if (row.expires_at && new Date(row.expires_at).getTime() <= Date.now()) {
      throw apiError(Code.Unauthenticated, "API_KEY_EXPIRED", "this API key has expired", { api_key_id: row.id });
    }
    const plan = tenantStanding(row);
    this.touch(row);
    return {
      tenantId: row.tenant_id,
      environment: environmentFromName(row.environment),
      actor: `api_key:${row.id}`,
      apiKeyId: row.id,
      scopes: typeof row.scopes === "string" ? (JSON.parse(row.scopes) as string[]) : row.scopes,
      plan,
      keyLimits: keyLimitsOf(row),
    };
  }

  private async lookUp(hash: string): Promise<ApiKeyRow | undefined> {
    return (await this.knex("api_keys")
      .join("tenants", "tenants.id", "api_keys.tenant_id")
      .leftJoin("api_key_usage", "api_key_usage.api_key_id", "api_keys.id")
      .where({ "api_keys.key_hash": hash })
      .first("api_keys.*", "api_key_usage.last_used_at", "tenants.plan_id", "tenants.suspended_at")) as ApiKeyRow | undefined;
  }

  // A key's last use is informational: written to the gatekeeper's own
  // api_key_usage at most once a minute per key and
  // never on the request's critical path.
  private touch(row: ApiKeyRow) {
    const last = row.last_used_at ? new Date(row.last_used_at).getTime() : 0;
    if (Date.now() - last < 60_000) return;
    // Kept on the row too, which the cache may hold for the next call.
    row.last_used_at = new Date();
    void this.knex("api_key_usage")
      .insert({ api_key_id: row.id, last_used_at: new Date() })
      .onConflict("api_key_id")
      .merge()
      .catch(() => undefined);
  }
}

function unknownKey() {
  return apiError(Code.Unauthenticated, "API_KEY_UNKNOWN", "this API key does not exist");
}
