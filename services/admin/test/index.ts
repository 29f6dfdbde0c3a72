import type { DescService } from "@bufbuild/protobuf";
import { createClient, createRouterTransport, type Client, type ConnectRouter } from "@connectrpc/connect";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { callerKey, createErrorInterceptor, createLogger, newId, type Caller, type Knex, type MemberRole } from "@onerouter/core";
import { hashPassword } from "../src/passwords";
import type { MemberRow } from "../src/member-accounts";
import { insertMember } from "../src/members";
import { planCounts } from "../src/plans";

// The admin room's services in memory, each client calling as the Caller it
// was made for, set on every call the way the gatekeeper sets it once a key
// or a session is recognised; no caller at all for public methods. For
// tests of the rules the handlers themselves hold, without the role matrix.
export function adminAs(routes: (router: ConnectRouter) => void): {
  client<S extends DescService>(service: S, caller?: Caller): Client<S>;
} {
  return {
    client(service, caller) {
      const transport = createRouterTransport(routes, {
        router: {
          interceptors: [
            createErrorInterceptor(createLogger("silent")),
            (next) => (req) => {
              req.contextValues.set(callerKey, caller);
              return next(req);
            },
          ],
        },
      });
      return createClient(service, transport);
    },
  };
}

// A member of `tenantId` with `role`, and the Caller of their console session.
export async function signedInMember(
  knex: Knex,
  input: { tenantId: string; role: MemberRole; email?: string; password?: string; environment?: Environment },
): Promise<{ member: MemberRow; caller: Caller }> {
  const member = await insertMember(knex, {
    tenantId: input.tenantId,
    email: input.email ?? `${newId("person")}@example.com`,
    name: `A ${input.role}`,
    role: input.role,
    passwordHash: await hashPassword(input.password ?? "a long enough password"),
  });
  const tenant = (await knex("tenants").where({ id: input.tenantId }).first("plan_id")) as { plan_id: string };
  return {
    member,
    caller: {
      tenantId: input.tenantId,
      environment: input.environment ?? Environment.TEST,
      actor: `member:${member.id}`,
      member: { id: member.id, role: input.role, sessionId: newId("ses") },
      scopes: [],
      plan: planCounts(tenant.plan_id),
    },
  };
}

// The Caller of an API key of `tenantId` (all scopes), as the gatekeeper makes it.
export async function apiKeyCaller(knex: Knex, tenantId: string, environment = Environment.TEST): Promise<Caller> {
  const tenant = (await knex("tenants").where({ id: tenantId }).first("plan_id")) as { plan_id: string };
  const apiKeyId = newId("key");
  return { tenantId, environment, actor: `api_key:${apiKeyId}`, apiKeyId, scopes: [], plan: planCounts(tenant.plan_id) };
}
