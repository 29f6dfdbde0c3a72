import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLogService } from "@onerouter/client/gen/onerouter/admin/v1/audit_logs_pb";
import { InvitationStatus, Role, TeamService } from "@onerouter/client/gen/onerouter/admin/v1/team_pb";
import { hashToken, MasterKeyring, newDataKey, newId, outboxMigrations, type Caller, type Database } from "@onerouter/core";
import { createTestDatabase, describeEachEngine } from "@onerouter/core/testing";
import { failure } from "@onerouter/gatekeeper/testing";
import { CircuitBreakers, ConnectorRegistry, ProviderAccountStore, ProviderHealthStore, ProviderOutbound, PublishedPrices, RoutingProfileStore, routingMigrations } from "@onerouter/routing";
import { adminAs, apiKeyCaller, signedInMember } from "../test";
import { adminMigrations } from "./migrations";
import { verifyPassword } from "./passwords";
import { adminRoutes } from "./routes";
import { createTenant } from "./tenants";

// TeamService on a real database, called as members of each role and as an
// API key, set directly as the gatekeeper would set them. Without a
// messaging room there is no mailer: invitations say no email was sent.
describeEachEngine("TeamService", (engine) => {
  let db: Database;
  let api: ReturnType<typeof adminAs>;
  const password = "correct horse battery staple";

  beforeAll(async () => {
    db = await createTestDatabase(engine);
    await db.migrate([...adminMigrations, ...outboxMigrations, ...routingMigrations]);
    const outbound = new ProviderOutbound({ baseUrls: [], allowedCidrs: [] });
    api = adminAs(
      adminRoutes({
        knex: db.knex,
        accounts: new ProviderAccountStore(db.knex, new MasterKeyring(newDataKey())),
        routing: new RoutingProfileStore(db.knex),
        connectors: new ConnectorRegistry({ outbound, providerTimeoutMs: 10_000 }),
        publicBaseUrl: () => "https://onerouter.example.com/",
        breakers: new CircuitBreakers({ failureThreshold: 5, cooldownMs: 30_000 }),
        health: new ProviderHealthStore(db.knex),
        prices: new PublishedPrices(db.knex),
        outbound,
      }),
    );
  });
  afterAll(async () => {
    await db?.close();
  });

  const team = (caller?: Caller) => api.client(TeamService, caller);
  const tenant = async (planId = "enterprise") => (await createTenant(db.knex, { name: `Team ${newId("t")}`, planId })).id;
  const member = (tenantId: string, role: "owner" | "admin" | "developer" | "viewer", email?: string) =>
    signedInMember(db.knex, { tenantId, role, email });
  const auditActions = async (tenantId: string) =>
    (await db.knex("audit_log_entries").where({ tenant_id: tenantId }).orderBy("created_at").select("actor", "action", "resource_id", "metadata")) as {
      actor: string;
      action: string;
      resource_id: string;
    }[];

  it("lists the tenant's members in pages", async () => {
    const tenantId = await tenant();
    const owner = await member(tenantId, "owner");
    const developer = await member(tenantId, "developer");
    const viewer = await member(tenantId, "viewer");
    const first = await team(viewer.caller).listMembers({ pageSize: 2 });
    expect(first.members.map((m) => m.id)).toEqual([viewer.member.id, developer.member.id]);
    expect(first.members[1]).toMatchObject({ email: developer.member.email, role: Role.DEVELOPER, name: "A developer" });
    const second = await team(viewer.caller).listMembers({ pageSize: 2, pageToken: first.nextPageToken });
    expect(second.members.map((m) => m.id)).toEqual([owner.member.id]);
    expect(second.nextPageToken).toBe("");
    expect(await failure(team(viewer.caller).listMembers({ pageToken: "nonsense" }))).toMatchObject({
      code: Code.InvalidArgument,
      field: "page_token",
    });
  });

  describe("role changes", () => {
    it("lets an admin change developers and viewers, and only an owner change admins and owners", async () => {
      const tenantId = await tenant();
      const owner = await member(tenantId, "owner");
      const admin = await member(tenantId, "admin");
      const otherAdmin = await member(tenantId, "admin");
      const developer = await member(tenantId, "developer");
      const viewer = await member(tenantId, "viewer");

      const demoted = await team(admin.caller).updateMemberRole({ memberId: developer.member.id, role: Role.VIEWER });
      expect(demoted.member).toMatchObject({ id: developer.member.id, role: Role.VIEWER });
      await team(admin.caller).updateMemberRole({ memberId: developer.member.id, role: Role.DEVELOPER });

      for (const [memberId, role] of [
        [developer.member.id, Role.ADMIN],
        [developer.member.id, Role.OWNER],
        [otherAdmin.member.id, Role.DEVELOPER],
        [owner.member.id, Role.ADMIN],
      ] as const) {
        expect(await failure(team(admin.caller).updateMemberRole({ memberId, role }))).toMatchObject({
          code: Code.PermissionDenied,
          reason: "OWNER_REQUIRED",
        });
      }
      expect(await failure(team(admin.caller).removeMember({ memberId: otherAdmin.member.id }))).toMatchObject({
        code: Code.PermissionDenied,
        reason: "OWNER_REQUIRED",
      });
      // Developers and viewers change nobody, whatever the role matrix lets through.
      expect(await failure(team(developer.caller).updateMemberRole({ memberId: viewer.member.id, role: Role.DEVELOPER }))).toMatchObject({
        code: Code.PermissionDenied,
        reason: "ADMIN_REQUIRED",
      });
      expect(await failure(team(viewer.caller).removeMember({ memberId: developer.member.id }))).toMatchObject({
        code: Code.PermissionDenied,
        reason: "ADMIN_REQUIRED",
      });

      const promoted = await team(owner.caller).updateMemberRole({ memberId: developer.member.id, role: Role.ADMIN });
      expect(promoted.member?.role).toBe(Role.ADMIN);
      await team(owner.caller).updateMemberRole({ memberId: otherAdmin.member.id, role: Role.OWNER });
      expect((await db.knex("members").where({ id: otherAdmin.member.id }).first()).role).toBe("owner");

      expect(await auditActions(tenantId)).toEqual([
        expect.objectContaining({ actor: admin.caller.actor, action: "member.update_role", resource_id: developer.member.id }),
        expect.objectContaining({ actor: admin.caller.actor, action: "member.update_role", resource_id: developer.member.id }),
        expect.objectContaining({ actor: owner.caller.actor, action: "member.update_role", resource_id: developer.member.id }),
        expect.objectContaining({ actor: owner.caller.actor, action: "member.update_role", resource_id: otherAdmin.member.id }),
      ]);
    });

    it("treats an API key as an admin: it changes developers and viewers, never admins or owners", async () => {
      const tenantId = await tenant();
      const owner = await member(tenantId, "owner");
      const developer = await member(tenantId, "developer");
      const key = await apiKeyCaller(db.knex, tenantId);
      await team(key).updateMemberRole({ memberId: developer.member.id, role: Role.VIEWER });
      expect(await failure(team(key).updateMemberRole({ memberId: developer.member.id, role: Role.ADMIN }))).toMatchObject({
        reason: "OWNER_REQUIRED",
      });
      expect(await failure(team(key).removeMember({ memberId: owner.member.id }))).toMatchObject({ reason: "OWNER_REQUIRED" });
      const [entry] = await auditActions(tenantId);
      expect(entry).toMatchObject({ actor: key.actor, action: "member.update_role" });
    });

    it("refuses a role that is not one, and a member id that is missing", async () => {
      const tenantId = await tenant();
      const owner = await member(tenantId, "owner");
      expect(await failure(team(owner.caller).updateMemberRole({ memberId: owner.member.id, role: Role.UNSPECIFIED }))).toMatchObject({
        code: Code.InvalidArgument,
        field: "role",
      });
      expect(await failure(team(owner.caller).updateMemberRole({ memberId: "", role: Role.VIEWER }))).toMatchObject({
        code: Code.InvalidArgument,
        field: "member_id",
      });
      expect(await failure(team(owner.caller).removeMember({ memberId: "mem_unknown" }))).toMatchObject({ code: Code.NotFound });
    });
  });

  describe("the last owner", () => {
    it("can be neither demoted nor removed; another owner can", async () => {
      const tenantId = await tenant();
      const owner = await member(tenantId, "owner");
      expect(await failure(team(owner.caller).updateMemberRole({ memberId: owner.member.id, role: Role.ADMIN }))).toMatchObject({
        code: Code.FailedPrecondition,
        reason: "LAST_OWNER",
      });
      expect(await failure(team(owner.caller).removeMember({ memberId: owner.member.id }))).toMatchObject({
        code: Code.FailedPrecondition,
        reason: "LAST_OWNER",
      });
      const second = await member(tenantId, "owner");
      await team(second.caller).updateMemberRole({ memberId: owner.member.id, role: Role.DEVELOPER });
      expect(await failure(team(second.caller).removeMember({ memberId: second.member.id }))).toMatchObject({ reason: "LAST_OWNER" });
      expect(await db.knex("members").where({ tenant_id: tenantId, role: "owner" }).pluck("id")).toEqual([second.member.id]);
    });

    it("survives two owners demoting each other at once", async () => {
      const tenantId = await tenant();
      const first = await member(tenantId, "owner");
      const second = await member(tenantId, "owner");
      const results = await Promise.allSettled([
        team(first.caller).updateMemberRole({ memberId: second.member.id, role: Role.ADMIN }),
        team(second.caller).updateMemberRole({ memberId: first.member.id, role: Role.ADMIN }),
      ]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      expect(await failure(Promise.reject((results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason))).toMatchObject({
        reason: "LAST_OWNER",
      });
      expect(await db.knex("members").where({ tenant_id: tenantId, role: "owner" }).pluck("id")).toHaveLength(1);
    });
  });

  it("removes a member with their sessions, and lets anyone leave", async () => {
    const tenantId = await tenant();
    const owner = await member(tenantId, "owner");
    const admin = await member(tenantId, "admin");
    const developer = await member(tenantId, "developer");
    await db.knex("sessions").insert({
      id: newId("ses"),
      tenant_id: tenantId,
      member_id: developer.member.id,
      token_hash: hashToken(newId("token")),
      expires_at: new Date(Date.now() + 3600_000),
    });
    await team(admin.caller).removeMember({ memberId: developer.member.id });
    expect(await db.knex("sessions").where({ member_id: developer.member.id })).toEqual([]);
    expect(await db.knex("members").where({ id: developer.member.id })).toEqual([]);
    expect(await failure(team(admin.caller).removeMember({ memberId: developer.member.id }))).toMatchObject({ code: Code.NotFound });

    await team(admin.caller).removeMember({ memberId: admin.member.id });
    const { members } = await team(owner.caller).listMembers({});
    expect(members.map((m) => m.id)).toEqual([owner.member.id]);
    expect((await auditActions(tenantId)).map((e) => [e.actor, e.action, e.resource_id])).toEqual([
      [admin.caller.actor, "member.remove", developer.member.id],
      [admin.caller.actor, "member.remove", admin.member.id],
    ]);
  });

  describe("invitations", () => {
    it("are accepted once with a name and password, making a member of the invited role", async () => {
      const tenantId = await tenant();
      const admin = await member(tenantId, "admin");
      const created = await team(admin.caller).createInvitation({ email: " New.Person@Example.com ", role: Role.DEVELOPER });
      expect(created.invitation).toMatchObject({
        email: "new.person@example.com",
        role: Role.DEVELOPER,
        status: InvitationStatus.PENDING,
        emailMessageId: "",
        emailError: "no messaging service is reachable to send email",
      });
      const expiresIn = Number(created.invitation!.expireTime!.seconds) * 1000 - Date.now();
      expect(expiresIn).toBeGreaterThan(7 * 24 * 3600_000 - 60_000);
      expect(expiresIn).toBeLessThanOrEqual(7 * 24 * 3600_000);
      expect(created.acceptUrl).toBe(`https://onerouter.example.com/console/accept-invitation?token=${encodeURIComponent(created.token)}`);
      // Only the token's hash is stored.
      const stored = await db.knex("invitations").where({ id: created.invitation!.id }).first();
      expect(stored.token_hash).toBe(hashToken(created.token));
      expect(JSON.stringify(stored)).not.toContain(created.token);

      expect(await failure(team().acceptInvitation({ token: created.token, name: "New Person", password: "short" }))).toMatchObject({
        code: Code.InvalidArgument,
        field: "password",
      });
      expect(await failure(team().acceptInvitation({ token: created.token, name: " ", password }))).toMatchObject({
        code: Code.InvalidArgument,
        field: "name",
      });
      const { member: accepted } = await team().acceptInvitation({ token: created.token, name: " New Person ", password });
      expect(accepted).toMatchObject({ email: "new.person@example.com", name: "New Person", role: Role.DEVELOPER });
      const row = await db.knex("members").where({ id: accepted!.id }).first();
      expect(row.tenant_id).toBe(tenantId);
      expect(await verifyPassword(password, row.password_hash)).toBe(true);

      expect(await failure(team().acceptInvitation({ token: created.token, name: "Again", password }))).toMatchObject({
        code: Code.FailedPrecondition,
        reason: "INVITATION_ALREADY_ACCEPTED",
      });
      const { invitations } = await team(admin.caller).listInvitations({});
      expect(invitations).toEqual([expect.objectContaining({ id: created.invitation!.id, status: InvitationStatus.ACCEPTED })]);
      expect(await failure(team(admin.caller).revokeInvitation({ id: created.invitation!.id }))).toMatchObject({
        reason: "INVITATION_ALREADY_ACCEPTED",
      });
      expect((await auditActions(tenantId)).map((e) => [e.actor, e.action, e.resource_id])).toEqual([
        [admin.caller.actor, "invitation.create", created.invitation!.id],
        [`member:${accepted!.id}`, "invitation.accept", created.invitation!.id],
      ]);
    });

    it("refuse expired, revoked and unknown tokens with their reasons", async () => {
      const tenantId = await tenant();
      const owner = await member(tenantId, "owner");
      const expiring = await team(owner.caller).createInvitation({ email: "late@example.com", role: Role.VIEWER });
      await db.knex("invitations").where({ id: expiring.invitation!.id }).update({ expires_at: new Date(Date.now() - 1000) });
      expect(await failure(team().acceptInvitation({ token: expiring.token, name: "Late", password }))).toMatchObject({
        code: Code.FailedPrecondition,
        reason: "INVITATION_EXPIRED",
      });
      const revoked = await team(owner.caller).createInvitation({ email: "revoked@example.com", role: Role.ADMIN });
      const { invitation } = await team(owner.caller).revokeInvitation({ id: revoked.invitation!.id });
      expect(invitation?.status).toBe(InvitationStatus.REVOKED);
      expect(await failure(team().acceptInvitation({ token: revoked.token, name: "Revoked", password }))).toMatchObject({
        code: Code.FailedPrecondition,
        reason: "INVITATION_REVOKED",
      });
      expect(await failure(team().acceptInvitation({ token: "not-a-token", name: "Nobody", password }))).toMatchObject({
        code: Code.NotFound,
        reason: "INVITATION_NOT_FOUND",
      });
      expect(await failure(team().acceptInvitation({ token: "", name: "Nobody", password }))).toMatchObject({ field: "token" });
      const newest = await team(owner.caller).listInvitations({ pageSize: 1 });
      expect(newest.invitations.map((i) => i.status)).toEqual([InvitationStatus.REVOKED]);
      const older = await team(owner.caller).listInvitations({ pageSize: 1, pageToken: newest.nextPageToken });
      expect(older.invitations.map((i) => [i.id, i.status])).toEqual([[expiring.invitation!.id, InvitationStatus.EXPIRED]]);
      expect(await db.knex("members").where({ tenant_id: tenantId }).pluck("id")).toEqual([owner.member.id]);
      const actions = (await auditActions(tenantId)).map((e) => e.action);
      expect(actions).toEqual(["invitation.create", "invitation.create", "invitation.revoke"]);
    });

    it("refuse an email that is a member or already invited, and roles the inviter cannot give", async () => {
      const tenantId = await tenant();
      const owner = await member(tenantId, "owner", "owner@example.com");
      const admin = await member(tenantId, "admin");
      expect(await failure(team(admin.caller).createInvitation({ email: "OWNER@example.com", role: Role.VIEWER }))).toMatchObject({
        code: Code.AlreadyExists,
        reason: "MEMBER_EXISTS",
      });
      const first = await team(admin.caller).createInvitation({ email: "twice@example.com", role: Role.VIEWER });
      expect(await failure(team(admin.caller).createInvitation({ email: "twice@example.com", role: Role.DEVELOPER }))).toMatchObject({
        code: Code.AlreadyExists,
        reason: "INVITATION_PENDING",
        metadata: { invitation_id: first.invitation!.id },
      });
      expect(await failure(team(admin.caller).createInvitation({ email: "boss@example.com", role: Role.ADMIN }))).toMatchObject({
        code: Code.PermissionDenied,
        reason: "OWNER_REQUIRED",
      });
      const ownerInvite = await team(owner.caller).createInvitation({ email: "boss@example.com", role: Role.OWNER });
      expect(await failure(team(admin.caller).revokeInvitation({ id: ownerInvite.invitation!.id }))).toMatchObject({
        reason: "OWNER_REQUIRED",
      });
      for (const email of ["", "not an email", "a@b"]) {
        expect(await failure(team(admin.caller).createInvitation({ email, role: Role.VIEWER }))).toMatchObject({
          code: Code.InvalidArgument,
          field: "email",
        });
      }
      expect(await failure(team(admin.caller).createInvitation({ email: "x@example.com", role: Role.UNSPECIFIED }))).toMatchObject({
        field: "role",
      });
      // A member made meanwhile (by the CLI) wins; the invitation stays unused.
      await member(tenantId, "viewer", "twice@example.com");
      expect(await failure(team().acceptInvitation({ token: first.token, name: "Twice", password }))).toMatchObject({
        code: Code.AlreadyExists,
        reason: "MEMBER_EXISTS",
      });
      expect((await db.knex("invitations").where({ id: first.invitation!.id }).first()).accepted_at).toBeNull();
    });

    it("are single-use under 50 concurrent accepts", async () => {
      const tenantId = await tenant();
      const owner = await member(tenantId, "owner");
      const { token } = await team(owner.caller).createInvitation({ email: "crowd@example.com", role: Role.DEVELOPER });
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => team().acceptInvitation({ token, name: `Person ${i}`, password })),
      );
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      for (const result of results.filter((r) => r.status === "rejected")) {
        expect(await failure(Promise.reject(result.reason))).toMatchObject({ reason: "INVITATION_ALREADY_ACCEPTED" });
      }
      expect(await db.knex("members").where({ tenant_id: tenantId, email: "crowd@example.com" }).pluck("id")).toHaveLength(1);
      expect((await auditActions(tenantId)).filter((e) => e.action === "invitation.accept")).toHaveLength(1);
    });
  });

  describe("the plan's member limit", () => {
    it("counts members and pending invitations when inviting: the free plan has one seat", async () => {
      const tenantId = await tenant("free");
      const owner = await member(tenantId, "owner");
      expect(await failure(team(owner.caller).createInvitation({ email: "second@example.com", role: Role.VIEWER }))).toMatchObject({
        code: Code.FailedPrecondition,
        reason: "PLAN_LIMIT_REACHED",
        metadata: { metric: "members", limit: "1", plan_id: "free" },
      });
    });

    it("keeps invitations within the pro plan's five seats, and checks again when accepting", async () => {
      const tenantId = await tenant("pro");
      const owner = await member(tenantId, "owner");
      await member(tenantId, "developer");
      await member(tenantId, "viewer");
      const invited = [];
      for (const email of ["four@example.com", "five@example.com"]) {
        invited.push(await team(owner.caller).createInvitation({ email, role: Role.VIEWER }));
      }
      expect(await failure(team(owner.caller).createInvitation({ email: "six@example.com", role: Role.VIEWER }))).toMatchObject({
        reason: "PLAN_LIMIT_REACHED",
        metadata: { limit: "5", plan_id: "pro" },
      });
      // A revoked invitation frees its seat.
      await team(owner.caller).revokeInvitation({ id: invited[1]!.invitation!.id });
      await team(owner.caller).createInvitation({ email: "six@example.com", role: Role.VIEWER });

      // The tenant moves to the free plan: pending invitations no longer fit.
      await db.knex("tenants").where({ id: tenantId }).update({ plan_id: "free" });
      expect(await failure(team().acceptInvitation({ token: invited[0]!.token, name: "Four", password }))).toMatchObject({
        code: Code.FailedPrecondition,
        reason: "PLAN_LIMIT_REACHED",
        metadata: { plan_id: "free" },
      });
      expect((await db.knex("invitations").where({ id: invited[0]!.invitation!.id }).first()).accepted_at).toBeNull();
    });
  });

  it("keeps tenants apart: nothing of another tenant is seen or changed, even by its ids", async () => {
    const tenantA = await tenant();
    const tenantB = await tenant();
    const ownerA = await member(tenantA, "owner");
    const ownerB = await member(tenantB, "owner");
    const developerB = await member(tenantB, "developer");
    const invitationB = await team(ownerB.caller).createInvitation({ email: "b-only@example.com", role: Role.VIEWER });
    await team(ownerB.caller).updateMemberRole({ memberId: developerB.member.id, role: Role.VIEWER });

    const { members } = await team(ownerA.caller).listMembers({});
    expect(members.map((m) => m.id)).toEqual([ownerA.member.id]);
    expect((await team(ownerA.caller).listInvitations({})).invitations).toEqual([]);
    for (const call of [
      () => team(ownerA.caller).updateMemberRole({ memberId: developerB.member.id, role: Role.ADMIN }),
      () => team(ownerA.caller).removeMember({ memberId: ownerB.member.id }),
      () => team(ownerA.caller).revokeInvitation({ id: invitationB.invitation!.id }),
    ]) {
      expect(await failure(call())).toMatchObject({ code: Code.NotFound, reason: "RESOURCE_NOT_FOUND" });
    }
    const auditA = await api.client(AuditLogService, ownerA.caller).listAuditLogEntries({});
    expect(auditA.entries).toEqual([]);
    const auditB = await api.client(AuditLogService, ownerB.caller).listAuditLogEntries({});
    expect(auditB.entries.map((e) => e.action)).toEqual(["member.update_role", "invitation.create"]);
    expect((await db.knex("members").where({ id: developerB.member.id }).first()).role).toBe("viewer");
    expect((await db.knex("invitations").where({ id: invitationB.invitation!.id }).first()).revoked_at).toBeNull();
  });
});
