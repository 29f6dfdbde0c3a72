import { createHash, timingSafeEqual } from "node:crypto";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { memberRoles, methodAccess } from "@onerouter/admin";
import { apiError, callerKey, environmentName, remoteAddressKey, type Caller, type MemberRole, type PlanCounts } from "@onerouter/core";
import { failureBucket } from "./admission";
import type { FailureCounter } from "./rate-limiter";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";

// In the mesh, Envoy asks the gatekeeper who is calling and passes the
// answer to the service as these request headers (see envoy/README.md).
// Envoy removes them from what clients send; a service believes them only
// next to the mesh secret, which only the gatekeeper's answer carries.
export const meshHeaders = {
  tenantId: "x-onerouter-tenant-id",
  environment: "x-onerouter-environment",
  actor: "x-onerouter-actor",
  apiKeyId: "x-onerouter-api-key-id",
  memberId: "x-onerouter-member-id",
  memberRole: "x-onerouter-member-role",
  sessionId: "x-onerouter-session-id",
  scopes: "x-onerouter-scopes",
  plan: "x-onerouter-plan",
  // The client's address as Envoy reported it to the gatekeeper.
  clientAddress: "x-onerouter-client-address",
  meshSecret: "x-onerouter-mesh-secret",
} as const;

export const identityHeaderNames: readonly string[] = Object.values(meshHeaders);

// The headers that carry `caller` (none of the caller's own when there is
// none), the client's address when there is a client, and the mesh secret.
export function identityHeaders(caller: Caller | undefined, meshSecret: string, clientAddress?: string): Map<string, string> {
  const headers = new Map<string, string>([[meshHeaders.meshSecret, meshSecret]]);
  if (clientAddress) headers.set(meshHeaders.clientAddress, clientAddress);
  if (!caller) return headers;
  headers.set(meshHeaders.tenantId, caller.tenantId);
  headers.set(meshHeaders.environment, environmentName(caller.environment));
  headers.set(meshHeaders.actor, caller.actor);
  if (caller.apiKeyId) headers.set(meshHeaders.apiKeyId, caller.apiKeyId);
  if (caller.member) {
    headers.set(meshHeaders.memberId, caller.member.id);
    headers.set(meshHeaders.memberRole, caller.member.role);
    headers.set(meshHeaders.sessionId, caller.member.sessionId);
  }
  headers.set(meshHeaders.scopes, caller.scopes.join(","));
  if (caller.plan) headers.set(meshHeaders.plan, JSON.stringify(caller.plan));
  return headers;
}

// Equal secrets, compared in time that depends on neither (digests have one length).
function secretsEqual(presented: string, expected: string): boolean {
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return timingSafeEqual(digest(presented), digest(expected)) && expected !== "";
}

// Services anyone may call without the gatekeeper: the kubelet's and Envoy's probes.
const unguardedServices = new Set(["grpc.health.v1.Health"]);

export interface MeshCallerOptions {
  // The mesh's shared secret (ONEROUTER_MESH_SECRET); at least 32 characters.
  meshSecret: string;
}

// What a service runs in the mesh instead of the gatekeeper's interceptor:
// every call must carry the mesh secret (it came through Envoy, which asked
// the gatekeeper), and the caller is the one the identity headers name, the
// same Caller the in-process gatekeeper would have set, calling from the
// address the gatekeeper was told. Without the secret, or with a wrong one,
// the call is UNAUTHENTICATED whatever else it carries.
export function meshCallerInterceptor({ meshSecret }: MeshCallerOptions): Interceptor {
  if (meshSecret.length < 32) throw new Error("the mesh secret must be at least 32 characters");
  return (next) => async (req) => {
    if (unguardedServices.has(req.service.typeName)) return next(req);
    const presented = req.header.get(meshHeaders.meshSecret);
    if (presented === null || !secretsEqual(presented, meshSecret)) {
      throw apiError(
        Code.Unauthenticated,
        presented === null ? "MESH_SECRET_MISSING" : "MESH_SECRET_INVALID",
        "this service answers only calls that came through the gateway",
      );
    }
    req.contextValues.set(callerKey, callerFromIdentityHeaders(req.header));
    const clientAddress = req.header.get(meshHeaders.clientAddress);
    if (clientAddress) req.contextValues.set(remoteAddressKey, clientAddress);
    return next(req);
  };
}

// In the mesh, a method anyone may call fails in the service, after Envoy's
// Check (a wrong password at SignIn): the service charges the failure to the
// client's address in the buckets every gatekeeper replica checks, as the
// in-process gatekeeper charges it. Runs after meshCallerInterceptor.
export function meshFailureInterceptor(failures: FailureCounter): Interceptor {
  return (next) => async (req) => {
    if (methodAccess(req.method) !== "public") return next(req);
    try {
      return await next(req);
    } catch (err) {
      const address = req.contextValues.get(remoteAddressKey);
      if (err instanceof ConnectError && err.code === Code.Unauthenticated && address) await failures.charge(failureBucket(address));
      throw err;
    }
  };
}

// What a service runs behind Envoy: the caller from the gateway's headers,
// and failed authentications charged where the gatekeeper counts them.
export function meshServiceInterceptors(options: MeshCallerOptions & { failures: FailureCounter }): Interceptor[] {
  return [meshCallerInterceptor(options), meshFailureInterceptor(options.failures)];
}

// The caller the identity headers name; none when they name no tenant (a
// call that needs no caller, such as signing in).
export function callerFromIdentityHeaders(header: Headers): Caller | undefined {
  const tenantId = header.get(meshHeaders.tenantId);
  if (tenantId === null) return undefined;
  const value = (name: string) => {
    const found = header.get(name);
    if (!found) throw malformed(name);
    return found;
  };
  const environmentText = value(meshHeaders.environment);
  if (environmentText !== "test" && environmentText !== "live") throw malformed(meshHeaders.environment);
  const caller: Caller = {
    tenantId: value(meshHeaders.tenantId),
    environment: environmentText === "live" ? Environment.LIVE : Environment.TEST,
    actor: value(meshHeaders.actor),
    scopes: (header.get(meshHeaders.scopes) ?? "").split(",").filter((scope) => scope !== ""),
  };
  const apiKeyId = header.get(meshHeaders.apiKeyId);
  const memberId = header.get(meshHeaders.memberId);
  if (apiKeyId) {
    if (caller.actor !== `api_key:${apiKeyId}`) throw malformed(meshHeaders.actor);
    caller.apiKeyId = apiKeyId;
  } else if (memberId) {
    const role = value(meshHeaders.memberRole) as MemberRole;
    if (!memberRoles.includes(role)) throw malformed(meshHeaders.memberRole);
    if (caller.actor !== `member:${memberId}`) throw malformed(meshHeaders.actor);
    caller.member = { id: memberId, role, sessionId: value(meshHeaders.sessionId) };
  } else if (caller.actor !== "system") {
    // Neither a key nor a member: only another service acting for the tenant (its own email).
    throw malformed(meshHeaders.actor);
  }
  const plan = header.get(meshHeaders.plan);
  if (plan) caller.plan = parsePlan(plan);
  return caller;
}

function parsePlan(text: string): PlanCounts {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformed(meshHeaders.plan);
  }
  const plan = parsed as Partial<PlanCounts> | null;
  const count = (n: unknown) => typeof n === "number" && Number.isInteger(n) && n >= 0;
  if (
    typeof plan !== "object" || plan === null || typeof plan.id !== "string" ||
    !count(plan.members) || !count(plan.providerAccounts) || !count(plan.webhookEndpoints)
  ) {
    throw malformed(meshHeaders.plan);
  }
  return { id: plan.id, members: plan.members!, providerAccounts: plan.providerAccounts!, webhookEndpoints: plan.webhookEndpoints! };
}

function malformed(header: string) {
  return apiError(Code.Unauthenticated, "MESH_IDENTITY_MALFORMED", `the gateway's ${header} header is missing or malformed`, { header });
}
