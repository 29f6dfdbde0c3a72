import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { heldScopes } from "@onerouter/client";
import {
  SessionService,
  SignInResponseSchema,
  SignOutResponseSchema,
  WhoAmIResponseSchema,
} from "@onerouter/client/gen/onerouter/admin/v1/session_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { apiError, invalidArgument, isEmailAddress, remoteAddressKey, requestOriginKey, requireCaller, type Knex } from "@onerouter/core";
import { recordAudit } from "./audit";
import { normalizeEmail, toMember, type MemberRow } from "./member-accounts";
import { decoyPasswordHash, verifyPassword } from "./passwords";
import { permittedMethods } from "./role-matrix";
import { clearedSessionCookie, createSession, sessionCookie, type SessionRow } from "./sessions";
import { clearSignInFailures, recordSignInFailure, signInLockedForSeconds } from "./sign-in-lockout";
import type { TenantRow } from "./tenants";

export interface SessionServiceDeps {
  knex: Knex;
  // How long a session lasts; 12 hours when unset.
  sessionTtlHours?: number;
  // Where OneRouter is reached from outside: an https URL makes cookies Secure.
  publicBaseUrl: () => string;
}

type Candidate = MemberRow & Pick<TenantRow, "suspended_at"> & { tenant_name: string };

// Tenant-wide actions (signing in and out) are recorded in the test environment's log.
const auditEnvironment = Environment.TEST;

export function sessionService(deps: SessionServiceDeps): ServiceImpl<typeof SessionService> {
  const { knex } = deps;
  const ttlHours = deps.sessionTtlHours ?? 12;
  // Secure cookies only where the browser reached us over HTTPS: a Secure
  // cookie set over plain HTTP would never come back.
  const secure = (ctx: HandlerContext) => ctx.values.get(requestOriginKey).secure || deps.publicBaseUrl().startsWith("https:");

  return {
    async signIn(req, ctx) {
      const email = normalizeEmail(req.email);
      if (!isEmailAddress(email)) throw invalidArgument("email", "must be an email address");
      if (req.password === "") throw invalidArgument("password", "is required");
      const ipAddress = ctx.values.get(remoteAddressKey);

      const lockedFor = await signInLockedForSeconds(knex, email);
      if (lockedFor > 0) throw signInLocked(lockedFor);

      const candidates = (await knex("members")
        .join("tenants", "tenants.id", "members.tenant_id")
        .whereRaw("lower(members.email) = ?", [email])
        .whereNotNull("members.password_hash")
        .modify((q) => {
          if (req.tenantId !== "") void q.where("members.tenant_id", req.tenantId);
        })
        .select("members.*", "tenants.name as tenant_name", "tenants.suspended_at")) as Candidate[];
      // Every attempt costs one scrypt at least, so an unknown email is as slow as a wrong password.
      const matches: Candidate[] = [];
      if (candidates.length === 0) await verifyPassword(req.password, await decoyPasswordHash());
      for (const candidate of candidates) {
        if (await verifyPassword(req.password, candidate.password_hash!)) matches.push(candidate);
      }

      if (matches.length === 0) {
        await recordSignInFailure(knex, email);
        // Each tenant whose member this email is sees the failure in its
        // audit log; whoever tried is not known to be that member.
        for (const candidate of candidates) {
          await recordAudit(knex, {
            tenantId: candidate.tenant_id,
            actor: "anonymous",
            action: "member.sign_in_failed",
            resourceType: "member",
            resourceId: candidate.id,
            environment: auditEnvironment,
            ipAddress,
          });
        }
        throw apiError(Code.Unauthenticated, "SIGN_IN_FAILED", "the email or password is wrong");
      }
      if (matches.length > 1) {
        throw invalidArgument(
          "tenant_id",
          "this email belongs to several tenants; name the one to sign in to",
          "TENANT_REQUIRED",
        );
      }
      const member = matches[0]!;
      if (member.suspended_at) {
        throw apiError(Code.PermissionDenied, "TENANT_SUSPENDED", "this tenant is suspended; contact the operator of this OneRouter", {
          tenant_id: member.tenant_id,
        });
      }

      await clearSignInFailures(knex, email);
      const { token, row } = await knex.transaction(async (trx) => {
        const session = await createSession(trx, {
          tenantId: member.tenant_id,
          memberId: member.id,
          ttlHours,
          ipAddress,
          userAgent: ctx.requestHeader.get("user-agent") ?? "",
        });
        await trx("members").where({ id: member.id }).update({ last_sign_in_at: session.row.created_at });
        await recordAudit(trx, {
          tenantId: member.tenant_id,
          actor: `member:${member.id}`,
          action: "member.signed_in",
          resourceType: "session",
          resourceId: session.row.id,
          environment: auditEnvironment,
          ipAddress,
        });
        return session;
      });
      ctx.responseHeader.append("Set-Cookie", sessionCookie(token, ttlHours * 3600, secure(ctx)));
      return create(SignInResponseSchema, {
        member: toMember({ ...member, last_sign_in_at: row.created_at }),
        tenantId: member.tenant_id,
        expireTime: timestampFromDate(new Date(row.expires_at)),
      });
    },

    async signOut(_req, ctx) {
      const caller = requireCaller(ctx);
      if (!caller.member) {
        throw apiError(Code.FailedPrecondition, "NOT_A_SESSION", "only a console session can sign out; revoke an API key instead");
      }
      const { sessionId, id: memberId } = caller.member;
      await knex.transaction(async (trx) => {
        const revoked = await trx("sessions")
          .where({ id: sessionId, tenant_id: caller.tenantId })
          .whereNull("revoked_at")
          .update({ revoked_at: new Date() });
        if (revoked === 0) return;
        await recordAudit(trx, {
          tenantId: caller.tenantId,
          actor: caller.actor,
          action: "member.signed_out",
          resourceType: "session",
          resourceId: sessionId,
          environment: auditEnvironment,
          ipAddress: ctx.values.get(remoteAddressKey),
          metadata: { member_id: memberId },
        });
      });
      ctx.responseHeader.append("Set-Cookie", clearedSessionCookie(secure(ctx)));
      return create(SignOutResponseSchema, {});
    },

    async whoAmI(_req, ctx) {
      const caller = requireCaller(ctx);
      const tenant = (await knex("tenants").where({ id: caller.tenantId }).first("name", "plan_id")) as
        | Pick<TenantRow, "name" | "plan_id">
        | undefined;
      let member: MemberRow | undefined;
      let session: Pick<SessionRow, "expires_at"> | undefined;
      if (caller.member) {
        member = (await knex("members").where({ id: caller.member.id, tenant_id: caller.tenantId }).first()) as MemberRow | undefined;
        session = (await knex("sessions").where({ id: caller.member.sessionId, tenant_id: caller.tenantId }).first("expires_at")) as
          | Pick<SessionRow, "expires_at">
          | undefined;
      }
      return create(WhoAmIResponseSchema, {
        tenantId: caller.tenantId,
        tenantName: tenant?.name ?? "",
        environment: caller.environment,
        member: member && toMember(member),
        apiKeyId: caller.apiKeyId ?? "",
        scopes: heldScopes(caller.scopes),
        planId: tenant?.plan_id ?? "",
        sessionExpireTime: session && timestampFromDate(new Date(session.expires_at)),
        permittedMethods: permittedMethods(caller),
      });
    },
  };
}

function signInLocked(retryAfterSeconds: number) {
  return apiError(
    Code.Unauthenticated,
    "SIGN_IN_LOCKED",
    `too many failed sign-ins for this email; try again in ${retryAfterSeconds} seconds`,
    { retry_after_seconds: String(retryAfterSeconds) },
  );
}
