import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { afterAll, beforeAll, expect, it } from "vitest";
import { InvitationStatus, Role, TeamService } from "@onerouter/client/gen/onerouter/admin/v1/team_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { Channel, MessagingService } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { describeEachEngine } from "@onerouter/core/testing";
import { failure } from "@onerouter/gatekeeper/testing";
import { apiClient, sessionClient, signIn, startTestOneRouter, type TestOneRouter } from "@onerouter/server/testing";
import { verifyPassword } from "./passwords";
import { createTenant } from "./tenants";

// An invitation through the whole product: made with an API key, emailed
// through the tenant's MessagingService to the sandbox email provider its
// test environment starts with, and accepted, without any key, by the
// token in the email's link.
describeEachEngine("Invitation emails", (engine) => {
  let app: TestOneRouter;
  let tenantId: string;
  let team: ReturnType<typeof apiClient<typeof TeamService>>;
  let messaging: ReturnType<typeof apiClient<typeof MessagingService>>;
  let anonymous: ReturnType<typeof createClient<typeof TeamService>>;
  const password = "a password for the console";

  beforeAll(async () => {
    app = await startTestOneRouter({ engine });
    tenantId = (await createTenant(app.db.knex, { name: "Acme", planId: "pro" })).id;
    await app.ensureSandboxDefaults!(tenantId);
    const key = await app.createKey(Environment.TEST, tenantId);
    team = apiClient(app, TeamService, key.secret);
    messaging = apiClient(app, MessagingService, key.secret);
    anonymous = createClient(TeamService, createConnectTransport({ baseUrl: app.baseUrl }));
  });
  afterAll(async () => app?.close());

  async function emailTo(address: string) {
    const { messages } = await messaging.listMessages({ channel: Channel.EMAIL });
    const sent = messages.filter((m) => m.content.case === "email" && m.content.value.to.some((to) => to.email === address));
    expect(sent).toHaveLength(1);
    return sent[0]!;
  }

  it("emails a one-time link whose token makes the invitee a member once", async () => {
    const created = await team.createInvitation({ email: "dev@example.com", role: Role.DEVELOPER });
    expect(created.invitation).toMatchObject({ status: InvitationStatus.PENDING, emailError: "" });
    expect(created.acceptUrl).toBe(`${app.baseUrl}/console/accept-invitation?token=${encodeURIComponent(created.token)}`);

    const message = await emailTo("dev@example.com");
    expect(message.id).toBe(created.invitation!.emailMessageId);
    expect(message.provider).toBe("sandbox_email");
    expect(message.metadata).toEqual({ onerouter: "notification" });
    const email = message.content.case === "email" ? message.content.value : undefined;
    expect(email?.subject).toBe("You are invited to Acme on OneRouter");
    const link = /https?:\/\/\S+/.exec(email!.text)?.[0];
    expect(link).toBe(created.acceptUrl);
    const token = new URL(link!).searchParams.get("token")!;

    const { member } = await anonymous.acceptInvitation({ token, name: "Dev Eloper", password });
    expect(member).toMatchObject({ email: "dev@example.com", role: Role.DEVELOPER, name: "Dev Eloper" });
    const row = await app.db.knex("members").where({ id: member!.id }).first();
    expect(row.tenant_id).toBe(tenantId);
    expect(await verifyPassword(password, row.password_hash)).toBe(true);
    expect(await failure(anonymous.acceptInvitation({ token, name: "Dev Eloper", password }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "INVITATION_ALREADY_ACCEPTED",
    });
    // The new member signs in to the console with the password they chose.
    const { cookie } = await signIn(app, { email: "dev@example.com", password, tenantId });
    const { members } = await sessionClient(app, TeamService, cookie).listMembers({});
    expect(members.map((m) => m.email)).toEqual(["dev@example.com"]);
  });

  it("keeps every other team method behind a credential", async () => {
    expect(await failure(anonymous.listMembers({}))).toMatchObject({ code: Code.Unauthenticated });
    expect(await failure(anonymous.createInvitation({ email: "sneaky@example.com", role: Role.OWNER }))).toMatchObject({
      code: Code.Unauthenticated,
    });
  });

  it("still makes the invitation when the email is refused, and says why", async () => {
    const created = await team.createInvitation({ email: "rejected@sandbox.test", role: Role.VIEWER });
    expect(created.invitation?.status).toBe(InvitationStatus.PENDING);
    expect(created.invitation?.emailError).toMatch(/^the email was not sent: \S/);
    const message = await emailTo("rejected@sandbox.test");
    expect(message.id).toBe(created.invitation!.emailMessageId);
    const { invitations } = await team.listInvitations({});
    expect(invitations.find((i) => i.id === created.invitation!.id)?.emailError).toBe(created.invitation!.emailError);
    // The link handed on by other means still works.
    const { member } = await anonymous.acceptInvitation({ token: created.token, name: "Handed On", password });
    expect(member?.role).toBe(Role.VIEWER);
  });

  it("still makes the invitation when the tenant has no way to send email, and says why", async () => {
    const bare = (await createTenant(app.db.knex, { name: "No email", planId: "pro" })).id;
    const bareTeam = apiClient(app, TeamService, (await app.createKey(Environment.TEST, bare)).secret);
    const created = await bareTeam.createInvitation({ email: "someone@example.com", role: Role.VIEWER });
    expect(created.invitation?.status).toBe(InvitationStatus.PENDING);
    expect(created.invitation?.emailError).toBe("the email was not sent: no enabled messaging provider account can send email here");
    const { member } = await anonymous.acceptInvitation({ token: created.token, name: "Someone", password });
    expect(member?.email).toBe("someone@example.com");
  });
});
