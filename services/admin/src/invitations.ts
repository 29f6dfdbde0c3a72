import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { InvitationSchema, InvitationStatus, type Invitation } from "@onerouter/client/gen/onerouter/admin/v1/team_pb";
import {
  apiError,
  checkPlanCount,
  environmentFromName,
  environmentName,
  failedPrecondition,
  hashToken,
  newId,
  notFound,
  paginate,
  randomToken,
  type Knex,
  type MemberRole,
  type PageRequest,
} from "@onerouter/core";
import { recordAudit } from "./audit";
import { assertMayManage, countMembers, findMemberByEmail, insertMember, lockTeam, roleValue, type TeamChange } from "./members";
import type { MemberRow } from "./member-accounts";
import { hashPassword } from "./passwords";
import { planCounts } from "./plans";

export interface InvitationRow {
  id: string;
  tenant_id: string;
  email: string;
  role: MemberRole;
  invited_by: string;
  environment: string;
  created_at: Date;
  expires_at: Date;
  accepted_at: Date | null;
  revoked_at: Date | null;
  member_id: string | null;
  email_message_id: string;
  email_error: string;
}

// Long enough to span a weekend, short enough that a forgotten link dies.
const invitationLifetimeMs = 7 * 24 * 3600_000;

export function invitationStatus(row: InvitationRow, now = new Date()): InvitationStatus {
  if (row.accepted_at) return InvitationStatus.ACCEPTED;
  if (row.revoked_at) return InvitationStatus.REVOKED;
  if (new Date(row.expires_at).getTime() <= now.getTime()) return InvitationStatus.EXPIRED;
  return InvitationStatus.PENDING;
}

export function toInvitation(row: InvitationRow): Invitation {
  return create(InvitationSchema, {
    id: row.id,
    email: row.email,
    role: roleValue(row.role),
    status: invitationStatus(row),
    createTime: timestampFromDate(new Date(row.created_at)),
    expireTime: timestampFromDate(new Date(row.expires_at)),
    emailMessageId: row.email_message_id,
    emailError: row.email_error,
  });
}

function pending(trx: Knex, tenantId: string): Knex.QueryBuilder {
  return trx("invitations")
    .where({ tenant_id: tenantId })
    .whereNull("accepted_at")
    .whereNull("revoked_at")
    .where("expires_at", ">", new Date());
}

function alreadyMember(email: string) {
  return apiError(Code.AlreadyExists, "MEMBER_EXISTS", `${email} is already a member of this tenant`, { email });
}

// Pending invitations count against the plan's members, so invitations can
// never promise more seats than the plan has.
export async function createInvitation(
  knex: Knex,
  change: TeamChange,
  input: { email: string; role: MemberRole },
): Promise<{ row: InvitationRow; token: string; tenantName: string }> {
  const { caller } = change;
  assertMayManage(caller, [input.role]);
  const token = randomToken(32);
  return knex.transaction(async (trx) => {
    const tenant = await lockTeam(trx, caller.tenantId);
    if (await findMemberByEmail(trx, caller.tenantId, input.email)) throw alreadyMember(input.email);
    const open = (await pending(trx, caller.tenantId).where({ email: input.email }).first("id")) as { id: string } | undefined;
    if (open) {
      throw apiError(Code.AlreadyExists, "INVITATION_PENDING", `${input.email} already has a pending invitation; revoke it to invite again`, {
        email: input.email,
        invitation_id: open.id,
      });
    }
    const [{ count: pendingCount }] = (await pending(trx, caller.tenantId).count({ count: "*" })) as [{ count: string | number }];
    checkPlanCount(caller.plan, "members", (await countMembers(trx, caller.tenantId)) + Number(pendingCount));
    const [row] = (await trx("invitations")
      .insert({
        id: newId("inv"),
        tenant_id: caller.tenantId,
        email: input.email,
        role: input.role,
        token_hash: hashToken(token),
        invited_by: caller.actor,
        environment: environmentName(caller.environment),
        expires_at: new Date(Date.now() + invitationLifetimeMs),
      })
      .returning("*")) as InvitationRow[];
    await recordAudit(trx, {
      tenantId: caller.tenantId,
      actor: caller.actor,
      action: "invitation.create",
      resourceType: "invitation",
      resourceId: row!.id,
      environment: caller.environment,
      ipAddress: change.ipAddress,
      metadata: { email: input.email, role: input.role },
    });
    return { row: row!, token, tenantName: tenant.name };
  });
}

// What became of the invitation's email, for the inviter to see.
export async function recordInvitationEmail(
  knex: Knex,
  id: string,
  outcome: { messageId: string; error: string },
): Promise<InvitationRow> {
  const [row] = (await knex("invitations")
    .where({ id })
    .update({ email_message_id: outcome.messageId, email_error: outcome.error })
    .returning("*")) as InvitationRow[];
  return row!;
}

export function listInvitations(knex: Knex, tenantId: string, page: PageRequest) {
  return paginate<InvitationRow>(knex("invitations").where({ tenant_id: tenantId }), page);
}

export async function revokeInvitation(knex: Knex, change: TeamChange, id: string): Promise<InvitationRow> {
  const { caller } = change;
  return knex.transaction(async (trx) => {
    const row = (await trx("invitations").where({ id, tenant_id: caller.tenantId }).forUpdate().first()) as InvitationRow | undefined;
    if (!row) throw notFound("invitation", id);
    assertMayManage(caller, [row.role]);
    if (row.accepted_at) {
      throw failedPrecondition("INVITATION_ALREADY_ACCEPTED", "this invitation was accepted; remove the member instead", {
        invitation_id: id,
        member_id: row.member_id ?? "",
      });
    }
    if (row.revoked_at) return row;
    const [revoked] = (await trx("invitations").where({ id }).update({ revoked_at: new Date() }).returning("*")) as InvitationRow[];
    await recordAudit(trx, {
      tenantId: caller.tenantId,
      actor: caller.actor,
      action: "invitation.revoke",
      resourceType: "invitation",
      resourceId: id,
      environment: caller.environment,
      ipAddress: change.ipAddress,
      metadata: { email: row.email, role: row.role },
    });
    return revoked!;
  });
}

// Why an invitation can no longer be accepted; undefined while it can.
function unusable(row: InvitationRow | undefined) {
  if (!row) return apiError(Code.NotFound, "INVITATION_NOT_FOUND", "this invitation link is not valid; ask for a new invitation");
  const metadata = { invitation_id: row.id };
  switch (invitationStatus(row)) {
    case InvitationStatus.ACCEPTED:
      return failedPrecondition("INVITATION_ALREADY_ACCEPTED", "this invitation was already accepted; sign in instead", metadata);
    case InvitationStatus.REVOKED:
      return failedPrecondition("INVITATION_REVOKED", "this invitation was revoked; ask for a new invitation", metadata);
    case InvitationStatus.EXPIRED:
      return failedPrecondition("INVITATION_EXPIRED", `this invitation expired at ${new Date(row.expires_at).toISOString()}; ask for a new invitation`, metadata);
    default:
      return undefined;
  }
}

function byToken(knex: Knex, token: string): Promise<InvitationRow | undefined> {
  return knex("invitations").where({ token_hash: hashToken(token) }).first() as Promise<InvitationRow | undefined>;
}

// Single-use under any concurrency: the invitation is claimed by one
// conditional update, so of many simultaneous accepts exactly one creates
// the member. The password is hashed only for a token that can still be
// accepted, so unusable tokens cost no scrypt work.
export async function acceptInvitation(
  knex: Knex,
  input: { token: string; name: string; password: string; ipAddress?: string },
): Promise<MemberRow> {
  const found = await byToken(knex, input.token);
  const refusal = unusable(found);
  if (refusal) throw refusal;
  const invitation = found!;
  const passwordHash = await hashPassword(input.password);
  return knex.transaction(async (trx) => {
    const tenant = await lockTeam(trx, invitation.tenant_id);
    const now = new Date();
    const [claimed] = (await trx("invitations")
      .where({ id: invitation.id })
      .whereNull("accepted_at")
      .whereNull("revoked_at")
      .where("expires_at", ">", now)
      .update({ accepted_at: now })
      .returning("*")) as InvitationRow[];
    if (!claimed) throw unusable((await trx("invitations").where({ id: invitation.id }).first()) as InvitationRow);
    if (await findMemberByEmail(trx, claimed.tenant_id, claimed.email)) throw alreadyMember(claimed.email);
    checkPlanCount(planCounts(tenant.plan_id), "members", await countMembers(trx, claimed.tenant_id));
    const member = await insertMember(trx, {
      tenantId: claimed.tenant_id,
      email: claimed.email,
      name: input.name,
      role: claimed.role,
      passwordHash,
    });
    await trx("invitations").where({ id: claimed.id }).update({ member_id: member.id });
    await recordAudit(trx, {
      tenantId: claimed.tenant_id,
      actor: `member:${member.id}`,
      action: "invitation.accept",
      resourceType: "invitation",
      resourceId: claimed.id,
      environment: environmentFromName(claimed.environment),
      ipAddress: input.ipAddress,
      metadata: { email: claimed.email, role: claimed.role, member_id: member.id, invited_by: claimed.invited_by },
    });
    return member;
  });
}
