import { readdirSync } from "node:fs";
import path from "node:path";
import { create, type DescFile, type DescMethod, type DescMethodStreaming, type DescMethodUnary, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { ErrorInfoSchema } from "@onerouter/client/gen/google/rpc/error_details_pb";
import type { MemberRole } from "@onerouter/core";
import { signIn, startTestOneRouter, type TestOneRouter } from "@onerouter/server/testing";
import { createMemberWithPassword } from "./member-accounts";
import { callerMayCall, oneRouterServices, roleMatrix } from "./role-matrix";

// What each role may call, written from the product's rules, not read from
// role-matrix.ts: viewers read; developers also write payments, messages and
// webhook endpoints, and test keys and test provider accounts; admins also
// live keys and provider accounts, routing and the team; owners also the plan.
type Expected = "public" | "signed_in" | { test: MemberRole; live: MemberRole };

function expectedAccess(service: string, method: string): Expected | undefined {
  if (method === "SignIn" || method === "AcceptInvitation") return "public";
  if (method === "SignOut" || method === "WhoAmI") return "signed_in";
  if (/^(Get|List|Compare|Export|Stream)/.test(method)) return { test: "viewer", live: "viewer" };
  switch (service) {
    case "onerouter.payments.v1.PaymentService":
    case "onerouter.messaging.v1.MessagingService":
    case "onerouter.webhooks.v1.WebhookService":
      return { test: "developer", live: "developer" };
    case "onerouter.admin.v1.ApiKeyService":
    case "onerouter.admin.v1.ProviderAccountService":
      return { test: "developer", live: "admin" };
    case "onerouter.admin.v1.RoutingService":
    case "onerouter.admin.v1.TeamService":
      return { test: "admin", live: "admin" };
    case "onerouter.admin.v1.UsageService":
      return { test: "owner", live: "owner" };
  }
  return undefined;
}

const roles: MemberRole[] = ["viewer", "developer", "admin", "owner"];
const environments = ["test", "live"] as const;
const atLeast = (role: MemberRole, least: MemberRole) => roles.indexOf(role) >= roles.indexOf(least);

// Every service of every generated file, so a service added to the protos
// and left out of the matrix's list is caught too.
async function generatedServices(): Promise<DescService[]> {
  const root = path.resolve(import.meta.dirname, "../../../clients/ts/src/gen/onerouter");
  const files = readdirSync(root, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith("_pb.ts"));
  const services: DescService[] = [];
  for (const file of files) {
    for (const value of Object.values((await import(path.join(root, file))) as Record<string, unknown>)) {
      const desc = value as Partial<DescFile>;
      if (desc.kind === "file") services.push(...desc.services!);
    }
  }
  return services;
}

const nameOf = (method: DescMethod) => `${method.parent.typeName}/${method.name}`;

describe("the role matrix", () => {
  it("has an entry for every RPC of every service, and no other", async () => {
    const services = await generatedServices();
    const all = services.flatMap((s) => s.methods.map(nameOf)).sort();
    expect(Object.keys(roleMatrix).sort()).toEqual(all);
    expect(oneRouterServices.map((s) => s.typeName).sort()).toEqual(services.map((s) => s.typeName).sort());
    for (const name of all) {
      const [service, method] = name.split("/") as [string, string];
      expect(expectedAccess(service, method), `no rule decides ${name}`).toBeDefined();
    }
  });

  it("refuses a session an RPC it has no entry for", () => {
    const unknown = { ...oneRouterServices[0]!.methods[0]!, name: "SomethingNew" } as DescMethod;
    for (const role of roles) {
      const caller = { tenantId: "t", environment: Environment.TEST, actor: "member:m", member: { id: "m", role, sessionId: "s" }, scopes: [] };
      expect(callerMayCall(caller, unknown), role).toBe(false);
    }
  });
});

// Every RPC of every service, called by each role in each environment over a
// real port with a real session, as the console would.
describe("every RPC by every role, with console sessions", () => {
  let server: TestOneRouter;
  const password = "a long enough password";
  const cookies = new Map<MemberRole, string>();
  const emails = new Map<MemberRole, string>();

  beforeAll(async () => {
    server = await startTestOneRouter({ env: { ONEROUTER_RATE_LIMIT_BURST: "100000", ONEROUTER_AUTH_FAILURES_BURST: "100000" } });
    for (const role of roles) {
      const email = `${role}@matrix.example`;
      await createMemberWithPassword(server.db.knex, { tenantId: server.defaultTenantId, email, name: role, role, password, actor: "test" });
      emails.set(role, email);
    }
  }, 180_000);
  afterAll(async () => server?.close());

  function transportFor(cookie: string | undefined, environment: string): Transport {
    return createConnectTransport({
      baseUrl: server.baseUrl,
      interceptors: [
        (next) => (req) => {
          if (cookie) req.header.set("cookie", cookie);
          req.header.set("origin", server.baseUrl);
          req.header.set("onerouter-environment", environment);
          return next(req);
        },
      ],
    });
  }

  // The call's error (undefined on success), with an empty request: what
  // matters is whether the gatekeeper let it through.
  async function outcome(transport: Transport, method: DescMethod): Promise<{ code: Code; reason?: string } | undefined> {
    try {
      if (method.methodKind === "unary") {
        await transport.unary(method as DescMethodUnary, undefined, undefined, undefined, create(method.input), undefined);
      } else if (method.methodKind === "server_streaming") {
        // The first message shows the call was let through; a stream may never end (StreamEvents).
        const reading = new AbortController();
        const res = await transport.stream(method as DescMethodStreaming, reading.signal, undefined, undefined, (async function* () {
          yield create(method.input);
        })(), undefined);
        for await (const _ of res.message) break;
        reading.abort();
      } else {
        throw new Error(`${nameOf(method)} is neither unary nor server-streaming`);
      }
      return undefined;
    } catch (err) {
      const error = ConnectError.from(err);
      return { code: error.code, reason: error.findDetails(ErrorInfoSchema)[0]?.reason };
    }
  }

  const methods = oneRouterServices.flatMap((s) => s.methods);
  // Signing out ends the session: it goes last.
  const ordered = [...methods.filter((m) => m.name !== "SignOut"), ...methods.filter((m) => m.name === "SignOut")];

  for (const environment of environments) {
    for (const role of roles) {
      it(`${role} in ${environment}`, async () => {
        const { cookie } = await signIn(server, { email: emails.get(role)!, password });
        cookies.set(role, cookie);
        const transport = transportFor(cookie, environment);
        const answers: string[] = [];
        const wanted: string[] = [];
        for (const method of ordered) {
          const name = nameOf(method);
          const access = expectedAccess(method.parent.typeName, method.name)!;
          const allowed = typeof access === "string" || atLeast(role, access[environment]);
          const result = await outcome(transport, method);
          const refusedByRole = result?.code === Code.PermissionDenied && result.reason === "ROLE_NOT_PERMITTED";
          expect(result?.code, `${name}: ${JSON.stringify(result)}`).not.toBe(Code.Unauthenticated);
          answers.push(`${name} ${refusedByRole ? "denied" : "allowed"}`);
          wanted.push(`${name} ${allowed ? "allowed" : "denied"}`);
        }
        expect(answers).toEqual(wanted);
      });
    }
  }

  it("lets anyone call the public RPCs and no one without an identity call the rest", async () => {
    const anonymous = transportFor(undefined, "test");
    for (const method of methods) {
      const access = expectedAccess(method.parent.typeName, method.name)!;
      const result = await outcome(anonymous, method);
      if (access === "public") expect(result?.code, nameOf(method)).not.toBe(Code.Unauthenticated);
      else expect([result?.code, result?.reason], nameOf(method)).toEqual([Code.Unauthenticated, "API_KEY_MISSING"]);
    }
  });
});
