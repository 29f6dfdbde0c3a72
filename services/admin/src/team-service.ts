import { create } from "@bufbuild/protobuf";
import { ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  AcceptInvitationResponseSchema,
  CreateInvitationResponseSchema,
  ListInvitationsResponseSchema,
  ListMembersResponseSchema,
  RemoveMemberResponseSchema,
  RevokeInvitationResponseSchema,
  TeamService,
  UpdateMemberRoleResponseSchema,
} from "@onerouter/client/gen/onerouter/admin/v1/team_pb";
import { MessageStatus } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { remoteAddressKey, requireCaller, requireId, type Knex } from "@onerouter/core";
import {
  acceptInvitation,
  createInvitation,
  listInvitations,
  recordInvitationEmail,
  revokeInvitation,
  toInvitation,
  type InvitationRow,
} from "./invitations";
import { toMember } from "./member-accounts";
import { listMembers, memberEmail, memberName, removeMember, roleName, updateMemberRole, type TeamChange } from "./members";
import { checkNewPassword } from "./passwords";
import type { TenantMailer } from "./tenant-mail";

export interface TeamServiceDeps {
  knex: Knex;
  // Where the console is reached, for the invitation link.
  publicBaseUrl: () => string;
  // Absent when no messaging room is reachable: invitations are then made
  // without an email, and say so.
  mailer?: TenantMailer;
}

function teamChange(ctx: HandlerContext): TeamChange {
  return { caller: requireCaller(ctx), ipAddress: ctx.values.get(remoteAddressKey) };
}

// Members, their roles and invitations. Which role may call each method is
// the role matrix's to decide; the rules about whom a caller may change
// (owners and admins only by an owner, never the last owner) hold here, for
// every kind of caller.
export function teamService(deps: TeamServiceDeps): ServiceImpl<typeof TeamService> {
  const { knex } = deps;
  const acceptUrl = (token: string) =>
    `${deps.publicBaseUrl().replace(/\/+$/, "")}/console/accept-invitation?token=${encodeURIComponent(token)}`;

  // The invitation is made whether or not its email goes out: it is usable
  // through the link CreateInvitation returns, and it records why no email
  // was sent. The invitation's id keys the email, so it is sent once.
  async function emailInvitation(row: InvitationRow, link: string, tenantName: string): Promise<InvitationRow> {
    if (!deps.mailer) return recordInvitationEmail(knex, row.id, { messageId: "", error: "no messaging service is reachable to send email" });
    try {
      const message = await deps.mailer.send(row.tenant_id, {
        to: row.email,
        subject: `You are invited to ${tenantName} on OneRouter`,
        text: [
          `You are invited to join ${tenantName} on OneRouter as ${row.role === "admin" || row.role === "owner" ? "an" : "a"} ${row.role}.`,
          "",
          `Accept the invitation and choose your password: ${link}`,
          "",
          `The link can be used once and expires on ${new Date(row.expires_at).toUTCString()}.`,
        ].join("\n"),
        idempotencyKey: `invitation-${row.id}`,
      });
      const failed = message.status === MessageStatus.FAILED ? `the email was not sent: ${message.error?.message ?? ""}` : "";
      return recordInvitationEmail(knex, row.id, { messageId: message.id, error: failed });
    } catch (err) {
      return recordInvitationEmail(knex, row.id, { messageId: "", error: `the email was not sent: ${ConnectError.from(err).message}` });
    }
  }

  return {
    async listMembers(req, ctx) {
      const caller = requireCaller(ctx);
      const { rows, nextPageToken } = await listMembers(knex, caller.tenantId, req);
      return create(ListMembersResponseSchema, { members: rows.map(toMember), nextPageToken });
    },

    async updateMemberRole(req, ctx) {
      const change = teamChange(ctx);
      const memberId = requireId("member_id", req.memberId);
      const row = await updateMemberRole(knex, change, memberId, roleName(req.role));
      return create(UpdateMemberRoleResponseSchema, { member: toMember(row) });
    },

    async removeMember(req, ctx) {
      const change = teamChange(ctx);
      await removeMember(knex, change, requireId("member_id", req.memberId));
      return create(RemoveMemberResponseSchema, {});
    },

    async createInvitation(req, ctx) {
      const change = teamChange(ctx);
      const email = memberEmail("email", req.email);
      const role = roleName(req.role);
      const { row, token, tenantName } = await createInvitation(knex, change, { email, role });
      const link = acceptUrl(token);
      const emailed = await emailInvitation(row, link, tenantName);
      return create(CreateInvitationResponseSchema, { invitation: toInvitation(emailed), token, acceptUrl: link });
    },

    async listInvitations(req, ctx) {
      const caller = requireCaller(ctx);
      const { rows, nextPageToken } = await listInvitations(knex, caller.tenantId, req);
      return create(ListInvitationsResponseSchema, { invitations: rows.map(toInvitation), nextPageToken });
    },

    async revokeInvitation(req, ctx) {
      const row = await revokeInvitation(knex, teamChange(ctx), requireId("id", req.id));
      return create(RevokeInvitationResponseSchema, { invitation: toInvitation(row) });
    },

    // Public: the token is the credential.
    async acceptInvitation(req, ctx) {
      requireId("token", req.token);
      const name = memberName("name", req.name);
      checkNewPassword("password", req.password);
      const member = await acceptInvitation(knex, {
        token: req.token,
        name,
        password: req.password,
        ipAddress: ctx.values.get(remoteAddressKey),
      });
      return create(AcceptInvitationResponseSchema, { member: toMember(member) });
    },
  };
}
