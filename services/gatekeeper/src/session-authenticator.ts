import { Code } from "@connectrpc/connect";
import { roleScopes } from "@onerouter/admin";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { apiError, hashesEqual, hashToken, type Caller, type Knex, type MemberRole } from "@onerouter/core";
import { RecentSet } from "./recent-set";
import { tenantStanding, type TenantStandingRow } from "./tenant-standing";

// Turns a console session's cookie token into a Caller: the member, the
// scopes of their role, and the environment the call chose with the
// OneRouter-Environment header.

export const environmentHeader = "OneRouter-Environment";

interface SessionLookupRow extends TenantStandingRow {
  id: string;
  member_id: string;
  token_hash: string;
  expires_at: Date;
  revoked_at: Date | null;
  role: MemberRole;
}

export class SessionAuthenticator {
  // `unknownHashes`: token hashes the database did not know a moment ago (see ApiKeyAuthenticator).
  constructor(
    private readonly knex: Knex,
    private readonly unknownHashes = new RecentSet(60_000, 10_000),
  ) {}

  async authenticate(token: string, environment: string | null): Promise<Caller> {
    const chosen = chosenEnvironment(environment);
    const hash = hashToken(token);
    if (this.unknownHashes.has(hash)) throw unknownSession();
    const row = (await this.knex("sessions")
      .join("members", "members.id", "sessions.member_id")
      .join("tenants", "tenants.id", "sessions.tenant_id")
      .where({ "sessions.token_hash": hash })
      .first(
        "sessions.id",
        "sessions.tenant_id",
        "sessions.member_id",
        "sessions.token_hash",
        "sessions.expires_at",
        "sessions.revoked_at",
        "members.role",
        "tenants.plan_id",
        "tenants.suspended_at",
      )) as SessionLookupRow | undefined;
    if (!row || !hashesEqual(row.token_hash, hash)) {
      this.unknownHashes.add(hash);
      throw unknownSession();
    }
    if (row.revoked_at) {
      throw apiError(Code.Unauthenticated, "SESSION_REVOKED", "this session was signed out; sign in again", { session_id: row.id });
    }
    if (new Date(row.expires_at).getTime() <= Date.now()) {
      throw apiError(Code.Unauthenticated, "SESSION_EXPIRED", "this session has expired; sign in again", { session_id: row.id });
    }
    const plan = tenantStanding(row);
    return {
      tenantId: row.tenant_id,
      environment: chosen,
      actor: `member:${row.member_id}`,
      member: { id: row.member_id, role: row.role, sessionId: row.id },
      scopes: roleScopes(row.role),
      plan,
    };
  }
}

function chosenEnvironment(header: string | null): Environment {
  if (header === null || header === "" || header === "test") return Environment.TEST;
  if (header === "live") return Environment.LIVE;
  throw apiError(Code.InvalidArgument, "INVALID_HEADER", `the ${environmentHeader} header must be test or live`, {
    header: environmentHeader,
  });
}

function unknownSession() {
  return apiError(Code.Unauthenticated, "SESSION_UNKNOWN", "this session does not exist; sign in again");
}
