import { Code } from "@connectrpc/connect";
import { Role } from "@onerouter/client/gen/onerouter/admin/v1/team_pb";
import {
  apiError,
  failedPrecondition,
  invalidArgument,
  isEmailAddress,
  newId,
  notFound,
  paginate,
  type Caller,
  type Knex,
  type MemberRole,
  type PageRequest,
} from "@onerouter/core";
import { recordAudit } from "./audit";
import { normalizeEmail, type MemberRow } from "./member-accounts";

const roleByName: Record<MemberRole, Role> = {
  owner: Role.OWNER,
  admin: Role.ADMIN,
  developer: Role.DEVELOPER,
  viewer: Role.VIEWER,
};

export function roleValue(name: MemberRole): Role {
  return roleByName[name];
}

export function roleName(role: Role, field = "role"): MemberRole {
  const name = (Object.keys(roleByName) as MemberRole[]).find((n) => roleByName[n] === role);
  if (!name) throw invalidArgument(field, "must be ROLE_OWNER, ROLE_ADMIN, ROLE_DEVELOPER or ROLE_VIEWER");
  return name;
}


// Emails are compared case-insensitively: one person, one member.
export function memberEmail(field: string, email: string): string {
  const normalized = normalizeEmail(email);
  if (normalized === "") throw invalidArgument(field, "is required");
  if (!isEmailAddress(normalized)) throw invalidArgument(field, `${normalized.slice(0, 100)} is not an email address`);
  return normalized;
}

export function memberName(field: string, name: string): string {
  const trimmed = name.trim();
  if (trimmed === "" || trimmed.length > 100) throw invalidArgument(field, "must be 1 to 100 characters");
  if (/[\r\n]/.test(trimmed)) throw invalidArgument(field, "must be one line");
  return trimmed;
}

// Who may change the team, decided here for every kind of caller once the
// role matrix let the call through: an owner changes anyone; an admin
// changes developers and viewers; an API key (admin:write) acts as an admin,
// so no key can make or unmake an owner or an admin.
type TeamAuthority = "owner" | "admin" | "none";

function teamAuthority(caller: Caller): TeamAuthority {
  if (!caller.member) return "admin";
  if (caller.member.role === "owner") return "owner";
  return caller.member.role === "admin" ? "admin" : "none";
}

const privileged: readonly MemberRole[] = ["owner", "admin"];

// `roles` are every role the change touches: a member's current and new
// role, or an invitation's.
export function assertMayManage(caller: Caller, roles: MemberRole[]): void {
  const authority = teamAuthority(caller);
  if (authority === "owner") return;
  if (authority === "admin" && !roles.some((role) => privileged.includes(role))) return;
  const ownerNeeded = authority === "admin";
  throw apiError(
    Code.PermissionDenied,
    ownerNeeded ? "OWNER_REQUIRED" : "ADMIN_REQUIRED",
    ownerNeeded ? "only an owner can make, change or remove admins and owners" : "only owners and admins manage the team",
    { required_role: ownerNeeded ? "owner" : "admin" },
  );
}

// Every change to a tenant's team takes the tenant's row first, so changes
// that count members (the last owner, the plan's member limit) see each
// other's result instead of racing.
export async function lockTeam(trx: Knex, tenantId: string): Promise<{ name: string; plan_id: string }> {
  const tenant = (await trx("tenants").where({ id: tenantId }).forUpdate().first("name", "plan_id")) as
    | { name: string; plan_id: string }
    | undefined;
  if (!tenant) throw notFound("tenant", tenantId);
  return tenant;
}

export async function countMembers(trx: Knex, tenantId: string, role?: MemberRole): Promise<number> {
  const query = trx("members").where({ tenant_id: tenantId });
  if (role) query.andWhere({ role });
  const [{ count }] = (await query.count({ count: "*" })) as [{ count: string | number }];
  return Number(count);
}

async function assertNotLastOwner(trx: Knex, member: MemberRow): Promise<void> {
  if (member.role !== "owner") return;
  if ((await countMembers(trx, member.tenant_id, "owner")) > 1) return;
  throw failedPrecondition("LAST_OWNER", "a tenant keeps at least one owner: make another member an owner first", {
    member_id: member.id,
  });
}

export interface TeamChange {
  caller: Caller;
  ipAddress?: string;
}

function audit(trx: Knex, change: TeamChange, action: string, member: MemberRow, metadata: Record<string, string>) {
  return recordAudit(trx, {
    tenantId: change.caller.tenantId,
    actor: change.caller.actor,
    action,
    resourceType: "member",
    resourceId: member.id,
    environment: change.caller.environment,
    ipAddress: change.ipAddress,
    metadata: { email: member.email, ...metadata },
  });
}

export async function insertMember(
  trx: Knex,
  input: { tenantId: string; email: string; name: string; role: MemberRole; passwordHash: string },
): Promise<MemberRow> {
  const [row] = (await trx("members")
    .insert({
      id: newId("mem"),
      tenant_id: input.tenantId,
      email: input.email,
      name: input.name,
      role: input.role,
      password_hash: input.passwordHash,
    })
    .returning("*")) as MemberRow[];
  return row!;
}

export async function findMemberByEmail(trx: Knex, tenantId: string, email: string): Promise<MemberRow | undefined> {
  return (await trx("members").where({ tenant_id: tenantId, email }).first()) as MemberRow | undefined;
}

export function listMembers(knex: Knex, tenantId: string, page: PageRequest) {
  return paginate<MemberRow>(knex("members").where({ tenant_id: tenantId }), page);
}

async function memberForChange(trx: Knex, tenantId: string, memberId: string): Promise<MemberRow> {
  await lockTeam(trx, tenantId);
  const member = (await trx("members").where({ id: memberId, tenant_id: tenantId }).first()) as MemberRow | undefined;
  if (!member) throw notFound("member", memberId);
  return member;
}

export async function updateMemberRole(knex: Knex, change: TeamChange, memberId: string, role: MemberRole): Promise<MemberRow> {
  return knex.transaction(async (trx) => {
    const member = await memberForChange(trx, change.caller.tenantId, memberId);
    assertMayManage(change.caller, [member.role, role]);
    if (member.role === role) return member;
    if (role !== "owner") await assertNotLastOwner(trx, member);
    const [updated] = (await trx("members").where({ id: member.id }).update({ role }).returning("*")) as MemberRow[];
    await audit(trx, change, "member.update_role", member, { from_role: member.role, to_role: role });
    return updated!;
  });
}

// Removing a member ends their console sessions: the sessions table's rows
// go with the member's.
export async function removeMember(knex: Knex, change: TeamChange, memberId: string): Promise<void> {
  await knex.transaction(async (trx) => {
    const member = await memberForChange(trx, change.caller.tenantId, memberId);
    // Anyone may leave the team; removing others follows the role rules.
    if (change.caller.member?.id !== member.id) assertMayManage(change.caller, [member.role]);
    await assertNotLastOwner(trx, member);
    await trx("members").where({ id: member.id }).delete();
    await audit(trx, change, "member.remove", member, { role: member.role });
  });
}
