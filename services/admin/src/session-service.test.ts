import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeyService } from "@onerouter/client/gen/onerouter/admin/v1/api_keys_pb";
import { AuditLogService } from "@onerouter/client/gen/onerouter/admin/v1/audit_logs_pb";
import { SessionService } from "@onerouter/client/gen/onerouter/admin/v1/session_pb";
import { Role } from "@onerouter/client/gen/onerouter/admin/v1/team_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { PaymentService } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { createApiKey } from "./api-keys";
import { failure } from "@onerouter/gatekeeper/testing";
import { apiClient, sessionClient, signIn, startTestOneRouter, type TestOneRouter } from "@onerouter/server/testing";
import { createMemberWithPassword } from "./member-accounts";
import { createTenant } from "./tenants";

// Console sessions against the whole product on a real port: the server
// trusts loopback as a proxy, so X-Forwarded-Proto can say a request came
// over HTTPS; one more origin is allowed for CORS.
describe("console sessions", () => {
  let server: TestOneRouter;
  const password = "correct horse battery staple";
  const allowedOrigin = "https://console.example.com";
  let tenantId: string;

  async function member(role: "owner" | "admin" | "developer" | "viewer", email = `${role}-${Math.random().toString(36).slice(2)}@example.com`, tenant = tenantId) {
    await createMemberWithPassword(server.db.knex, { tenantId: tenant, email, name: role, role, password, actor: "test" });
    return email;
  }

  async function signInRaw(body: object, headers: Record<string, string> = {}) {
    return fetch(`${server.baseUrl}/onerouter.admin.v1.SessionService/SignIn`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  }

  const sessionCall = (cookie: string, options: { environment?: "test" | "live"; origin?: string } = {}) => ({
    sessions: sessionClient(server, SessionService, cookie, options),
    keys: sessionClient(server, ApiKeyService, cookie, options),
    payments: sessionClient(server, PaymentService, cookie, options),
  });

  beforeAll(async () => {
    server = await startTestOneRouter({
      env: { ONEROUTER_TRUSTED_PROXY_CIDRS: "127.0.0.1/32", ONEROUTER_CORS_ORIGINS: allowedOrigin, ONEROUTER_SESSION_TTL_HOURS: "8" },
    });
    tenantId = (await createTenant(server.db.knex, { name: "Sessions", planId: "pro" })).id;
  }, 180_000);
  afterAll(async () => server?.close());

  it("sets an HttpOnly, SameSite=Strict cookie for the session's lifetime, Secure only over HTTPS", async () => {
    const email = await member("developer");
    const plain = await signInRaw({ email, password });
    expect(plain.status).toBe(200);
    const cookie = plain.headers.getSetCookie()[0]!;
    expect(cookie).toMatch(/^onerouter_session=[A-Za-z0-9_-]{43}; /);
    const flags = cookie.split("; ").slice(1);
    expect(flags).toEqual(expect.arrayContaining(["HttpOnly", "SameSite=Strict", "Path=/", `Max-Age=${8 * 3600}`]));
    expect(flags).not.toContain("Secure");
    const body = (await plain.json()) as { tenantId: string; member: { email: string; role: string }; expireTime: string };
    expect(body.tenantId).toBe(tenantId);
    expect(body.member).toMatchObject({ email, role: "ROLE_DEVELOPER" });
    expect(new Date(body.expireTime).getTime() - Date.now()).toBeGreaterThan(8 * 3600_000 - 60_000);
    // The token itself is never stored: only its hash.
    const token = cookie.split(";")[0]!.split("=")[1]!;
    expect(await server.db.knex("sessions").where({ token_hash: token }).first()).toBeUndefined();

    const overHttps = await signInRaw({ email, password }, { "x-forwarded-proto": "https" });
    expect(overHttps.headers.getSetCookie()[0]!.split("; ")).toContain("Secure");
  });

  it("refuses a wrong password and an unknown email alike, and audits failures and successes", async () => {
    const email = await member("viewer");
    const wrong = await failure(signInExpectingError({ email, password: "not the password" }));
    const unknown = await failure(signInExpectingError({ email: "nobody@example.com", password }));
    expect([wrong.code, wrong.reason]).toEqual([Code.Unauthenticated, "SIGN_IN_FAILED"]);
    expect([unknown.code, unknown.reason]).toEqual([Code.Unauthenticated, "SIGN_IN_FAILED"]);
    expect(unknown.message).toBe(wrong.message);

    const { cookie } = await signIn(server, { email, password });
    const entries = await sessionClient(server, AuditLogService, cookie).listAuditLogEntries({});
    const actions = entries.entries.map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["member.sign_in_failed", "member.signed_in"]));
  });

  function signInExpectingError(body: { email: string; password: string; tenantId?: string }) {
    return sessionClient(server, SessionService, "").signIn(body);
  }

  it("locks an email after five failures in a row, for a while, even for the right password", async () => {
    const email = await member("admin");
    const stale = { email: "guessed-long-ago@example.com", failures: 3, window_started_at: new Date(Date.now() - 2 * 86400_000) };
    await server.db.knex("sign_in_failures").insert(stale);
    for (let i = 0; i < 5; i++) {
      expect((await failure(signInExpectingError({ email, password: `wrong ${i}` }))).reason).toBe("SIGN_IN_FAILED");
    }
    const locked = await failure(signInExpectingError({ email, password }));
    expect([locked.code, locked.reason]).toEqual([Code.Unauthenticated, "SIGN_IN_LOCKED"]);
    // Failures of long ago are forgotten as new ones come in.
    expect(await server.db.knex("sign_in_failures").where({ email: stale.email }).first()).toBeUndefined();
    const retryAfter = Number(locked.metadata.retry_after_seconds);
    expect(retryAfter).toBeGreaterThan(800);
    expect(retryAfter).toBeLessThanOrEqual(900);
    // The lock is kept in the database, for every process: when it has passed, the right password works again.
    await server.db.knex("sign_in_failures").where({ email }).update({ locked_until: new Date(Date.now() - 1000), window_started_at: new Date(Date.now() - 3600_000) });
    await signIn(server, { email, password });
    expect(await server.db.knex("sign_in_failures").where({ email }).first()).toBeUndefined();
  });

  it("asks which tenant when the email and password open several, and signs in to the one named", async () => {
    const email = await member("owner");
    const other = await createTenant(server.db.knex, { name: "Second", planId: "pro" });
    await member("viewer", email, other.id);
    const ambiguous = await failure(signInExpectingError({ email, password }));
    expect([ambiguous.code, ambiguous.reason, ambiguous.field]).toEqual([Code.InvalidArgument, "TENANT_REQUIRED", "tenant_id"]);
    const { cookie } = await signIn(server, { email, password, tenantId: other.id });
    const me = await sessionCall(cookie).sessions.whoAmI({});
    expect(me.tenantId).toBe(other.id);
    expect(me.member?.role).toBe(Role.VIEWER);
  });

  it("tells a session who it is: member, environment chosen per call, scopes of the role, expiry, permitted methods", async () => {
    const email = await member("developer");
    const { cookie } = await signIn(server, { email, password });
    const test = await sessionCall(cookie).sessions.whoAmI({});
    expect(test).toMatchObject({ tenantId, tenantName: "Sessions", environment: Environment.TEST, apiKeyId: "", planId: "pro" });
    expect(test.member?.email).toBe(email);
    expect(test.scopes).not.toContain("admin:write");
    expect(test.scopes).toContain("payments:write");
    expect(test.sessionExpireTime).toBeDefined();
    expect(test.permittedMethods).toContain("onerouter.admin.v1.ApiKeyService/CreateApiKey");
    expect(test.permittedMethods).not.toContain("onerouter.admin.v1.RoutingService/UpdateRoutingProfile");

    const live = await sessionCall(cookie, { environment: "live" }).sessions.whoAmI({});
    expect(live.environment).toBe(Environment.LIVE);
    expect(live.permittedMethods).not.toContain("onerouter.admin.v1.ApiKeyService/CreateApiKey");
    expect(live.permittedMethods).toContain("onerouter.payments.v1.PaymentService/CreatePayment");

    const bad = await failure(sessionClient(server, SessionService, cookie, { environment: "staging" as "live" }).whoAmI({}));
    expect([bad.code, bad.reason, bad.metadata.header]).toEqual([Code.InvalidArgument, "INVALID_HEADER", "OneRouter-Environment"]);
  });

  it("tells an API key who it is: its id, environment, scopes and what they permit", async () => {
    const { row, secret } = await createApiKey(server.db.knex, {
      tenantId,
      environment: Environment.LIVE,
      name: "reader",
      scopes: ["payments:read"],
      createdBy: "test",
    });
    const me = await apiClient(server, SessionService, secret).whoAmI({});
    expect(me).toMatchObject({ tenantId, environment: Environment.LIVE, apiKeyId: row.id, scopes: ["payments:read"], planId: "pro" });
    expect(me.member).toBeUndefined();
    expect(me.sessionExpireTime).toBeUndefined();
    expect(me.permittedMethods).toEqual(
      expect.arrayContaining(["onerouter.payments.v1.PaymentService/GetPayment", "onerouter.admin.v1.SessionService/WhoAmI"]),
    );
    expect(me.permittedMethods).not.toContain("onerouter.payments.v1.PaymentService/CreatePayment");
    expect(me.permittedMethods).not.toContain("onerouter.admin.v1.ApiKeyService/ListApiKeys");
  });

  it("refuses a signed-out session, an expired one and an unknown one", async () => {
    const email = await member("admin");
    const { cookie } = await signIn(server, { email, password });
    const signOut = await fetch(`${server.baseUrl}/onerouter.admin.v1.SessionService/SignOut`, {
      method: "POST",
      headers: { "content-type": "application/json", "connect-protocol-version": "1", origin: server.baseUrl, cookie },
      body: "{}",
    });
    expect(signOut.status).toBe(200);
    expect(signOut.headers.getSetCookie()[0]).toMatch(/^onerouter_session=; .*Max-Age=0/);
    const revoked = await failure(sessionCall(cookie).sessions.whoAmI({}));
    expect([revoked.code, revoked.reason]).toEqual([Code.Unauthenticated, "SESSION_REVOKED"]);

    const second = await signIn(server, { email, password });
    await server.db.knex("sessions").where({ member_id: (await sessionCall(second.cookie).sessions.whoAmI({})).member!.id }).update({ expires_at: new Date(Date.now() - 1000) });
    const expired = await failure(sessionCall(second.cookie).payments.listPayments({}));
    expect([expired.code, expired.reason]).toEqual([Code.Unauthenticated, "SESSION_EXPIRED"]);

    const unknown = await failure(sessionCall("onerouter_session=made-up-token").sessions.whoAmI({}));
    expect([unknown.code, unknown.reason]).toEqual([Code.Unauthenticated, "SESSION_UNKNOWN"]);
  });

  it("refuses a state-changing call with a valid cookie from another origin, or without the Connect header", async () => {
    const email = await member("developer");
    const { cookie } = await signIn(server, { email, password });
    const created = await sessionCall(cookie).keys.createApiKey({ name: "same origin" });
    expect(created.secret).toMatch(/^or_test_/);
    expect((await sessionCall(cookie, { origin: allowedOrigin }).keys.createApiKey({ name: "allowed origin" })).secret).toMatch(/^or_test_/);

    const crossSite = await failure(sessionCall(cookie, { origin: "https://evil.example" }).keys.createApiKey({ name: "cross site" }));
    expect([crossSite.code, crossSite.reason, crossSite.metadata.origin]).toEqual([Code.PermissionDenied, "CROSS_SITE_REQUEST", "https://evil.example"]);
    // Reading from elsewhere changes nothing and is not refused for it.
    expect((await sessionCall(cookie, { origin: "https://evil.example" }).keys.listApiKeys({})).apiKeys.length).toBeGreaterThan(0);

    // A form post or a plain fetch: the cookie rides along, but no Connect header.
    const noConnectHeader = await fetch(`${server.baseUrl}/onerouter.admin.v1.ApiKeyService/CreateApiKey`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: server.baseUrl, cookie },
      body: JSON.stringify({ name: "no header" }),
    });
    expect(noConnectHeader.status).toBe(403);
    expect(((await noConnectHeader.json()) as { code: string }).code).toBe("permission_denied");
    const noOrigin = await fetch(`${server.baseUrl}/onerouter.admin.v1.ApiKeyService/CreateApiKey`, {
      method: "POST",
      headers: { "content-type": "application/json", "connect-protocol-version": "1", cookie },
      body: JSON.stringify({ name: "no origin" }),
    });
    expect(noOrigin.status).toBe(403);
    const names = (await sessionCall(cookie).keys.listApiKeys({})).apiKeys.map((k) => k.name);
    expect(names).not.toContain("cross site");
    expect(names).not.toContain("no header");
    expect(names).not.toContain("no origin");
  });

  it("keys made by a session hold no more than the member's role grants", async () => {
    const email = await member("developer");
    const { cookie } = await signIn(server, { email, password });
    const made = await sessionCall(cookie).keys.createApiKey({ name: "developer's" });
    expect(made.apiKey?.scopes).not.toContain("admin:write");
    const tooMuch = await failure(sessionCall(cookie).keys.createApiKey({ name: "admin's", scopes: ["admin:write"] }));
    expect([tooMuch.code, tooMuch.reason]).toEqual([Code.PermissionDenied, "SCOPE_NOT_HELD"]);
    const audit = await server.db.knex("api_keys").where({ id: made.apiKey!.id }).first("created_by");
    expect(audit.created_by).toMatch(/^member:mem_/);
  });

  it("refuses the sessions and sign-ins of a suspended tenant", async () => {
    const suspended = await createTenant(server.db.knex, { name: "Suspended", planId: "free" });
    const email = await member("owner", undefined, suspended.id);
    const { cookie } = await signIn(server, { email, password });
    await server.db.knex("tenants").where({ id: suspended.id }).update({ suspended_at: new Date() });
    const call = await failure(sessionCall(cookie).sessions.whoAmI({}));
    expect([call.code, call.reason]).toEqual([Code.PermissionDenied, "TENANT_SUSPENDED"]);
    const again = await failure(signInExpectingError({ email, password }));
    expect([again.code, again.reason]).toEqual([Code.PermissionDenied, "TENANT_SUSPENDED"]);
  });
});
