import { isIP } from "node:net";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { heldScopes, requiredScope } from "@onerouter/client";
import { apiError, callerKey, rateLimited, remoteAddressKey, type Caller } from "@onerouter/core";
import type { ApiKeyAuthenticator } from "./authenticator";
import type { TokenBucketLimiter } from "./rate-limiter";

// Services anyone may call without a key: probes must work before keys exist.
const publicServices = new Set(["grpc.health.v1.Health"]);
// Methods whose request carries its own credential: an invitation's token.
const publicMethods = new Set(["onerouter.admin.v1.TeamService/AcceptInvitation"]);

// One IPv6 client usually holds a whole /64, so its failures count together.
export function failureBucket(address: string): string {
  if (isIP(address) !== 6) return address;
  const [head = "", tail] = address.split("::");
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const headGroups = groups(head);
  const tailGroups = tail === undefined ? [] : groups(tail);
  const tailLength = tailGroups.length + (tailGroups.at(-1)?.includes(".") ? 1 : 0);
  const zeros: string[] = Array(Math.max(0, 8 - headGroups.length - tailLength)).fill("0");
  const all = [...headGroups, ...zeros, ...tailGroups];
  return `${all.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, "")).join(":")}::/64`;
}

export function createGatekeeperInterceptor(deps: {
  authenticator: ApiKeyAuthenticator;
  // Per API key.
  limiter: TokenBucketLimiter;
  // Failed authentications per client address.
  failures: TokenBucketLimiter;
}): Interceptor {
  // A client address that keeps failing is refused before its keys are
  // looked up, so guessing keys costs the database nothing. Every failure is
  // charged, also those of a parallel wave that passed the check together.
  async function authenticate(authorization: string | null, clientAddress: string): Promise<Caller> {
    const bucket = failureBucket(clientAddress);
    const allowance = deps.failures.check(bucket);
    if (!allowance.allowed) {
      throw rateLimited(allowance.retryAfterMs, { limit: "failed_authentication" });
    }
    try {
      return await deps.authenticator.authenticate(authorization);
    } catch (err) {
      if (err instanceof ConnectError && err.code === Code.Unauthenticated) deps.failures.charge(bucket);
      throw err;
    }
  }

  return (next) => async (req) => {
    if (publicServices.has(req.service.typeName) || publicMethods.has(`${req.service.typeName}/${req.method.name}`)) return next(req);
    const caller = await authenticate(req.header.get("authorization"), req.contextValues.get(remoteAddressKey));
    const scope = requiredScope(req.method);
    if (!heldScopes(caller.scopes).includes(scope)) {
      throw apiError(Code.PermissionDenied, "API_KEY_SCOPE_MISSING", `this API key lacks the ${scope} scope`, {
        scope,
        api_key_id: caller.apiKeyId ?? "",
      });
    }
    const decision = deps.limiter.take(caller.actor);
    if (!decision.allowed) throw rateLimited(decision.retryAfterMs, { api_key_id: caller.apiKeyId ?? "" });
    req.contextValues.set(callerKey, caller);
    return next(req);
  };
}
