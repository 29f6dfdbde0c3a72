import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { MemberSchema, Role, type Member } from "@onerouter/client/gen/onerouter/admin/v1/team_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import type { Knex, MemberRole } from "@onerouter/core";
import { newId } from "@onerouter/core/ids";
import { recordAudit } from "./audit";
import { hashPassword } from "./passwords";

// A tenant's members as stored, and as the API shows them.
export interface MemberRow {
  id: string;
  tenant_id: string;
  email: string;
  name: string;
  role: MemberRole;
  password_hash: string | null;
  last_sign_in_at: Date | null;
  created_at: Date;
}

export const memberRoles: readonly MemberRole[] = ["owner", "admin", "developer", "viewer"];

const roleEnums: Record<MemberRole, Role> = {
  owner: Role.OWNER,
  admin: Role.ADMIN,
  developer: Role.DEVELOPER,
  viewer: Role.VIEWER,
};

// Emails are compared as typed but for case and surrounding spaces.
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function toMember(row: MemberRow): Member {
  return create(MemberSchema, {
    id: row.id,
    email: row.email,
    name: row.name,
    role: roleEnums[row.role],
    createTime: timestampFromDate(new Date(row.created_at)),
    lastSignInTime: row.last_sign_in_at ? timestampFromDate(new Date(row.last_sign_in_at)) : undefined,
  });
}

export class MemberExistsError extends Error {}

// A member who signs in with `password`, made by the operator (the CLI);
// the plan's member count does not bind the operator. Audited as `actor`.
export async function createMemberWithPassword(
  knex: Knex,
  input: { tenantId: string; email: string; name: string; role: MemberRole; password: string; actor: string },
): Promise<MemberRow> {
  const email = normalizeEmail(input.email);
  const passwordHash = await hashPassword(input.password);
  return knex.transaction(async (trx) => {
    const existing = await trx("members").where({ tenant_id: input.tenantId }).whereRaw("lower(email) = ?", [email]).first("id");
    if (existing) throw new MemberExistsError(`${email} is already a member of tenant ${input.tenantId}`);
    const [row] = (await trx("members")
      .insert({ id: newId("mem"), tenant_id: input.tenantId, email, name: input.name, role: input.role, password_hash: passwordHash })
      .returning("*")) as MemberRow[];
    await recordAudit(trx, {
      tenantId: input.tenantId,
      actor: input.actor,
      action: "member.created",
      resourceType: "member",
      resourceId: row!.id,
      environment: Environment.TEST,
      metadata: { email, role: input.role },
    });
    return row!;
  });
}

// Whether a tenant has anyone who can sign in to its console yet.
export async function tenantHasMembers(knex: Knex, tenantId: string): Promise<boolean> {
  return (await knex("members").where({ tenant_id: tenantId }).first("id")) !== undefined;
}
