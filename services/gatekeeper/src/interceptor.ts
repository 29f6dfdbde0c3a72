import { isIP } from "node:net";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { heldScopes, requiredScope } from "@onerouter/client";
import { apiError, callerKey, createErrorInterceptor, rateLimited, remoteAddressKey, type Logger } from "@onerouter/core";
import type { ApiKeyAuthenticator, AuthenticatedCaller } from "./authenticator";
import { applyHeaders, withHeaders, type CallLimits } from "./call-limits";
import type { TokenBucketLimiter } from "./rate-limiter";

// Services anyone may call without a key: probes must work before keys exist.
const publicServices = new Set(["grpc.health.v1.Health"]);

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

export interface GatekeeperDeps {
  authenticator: ApiKeyAuthenticator;
  // Rates, quotas and usage counts of authenticated callers.
  limits: CallLimits;
  // Failed authentications per client address.
  failures: TokenBucketLimiter;
  logger: Logger;
}

// The gatekeeper's interceptor, then one that gives the services' errors
// their ErrorInfo (logging internal ones), so every answer to an admitted
// call, success or error, can carry its RateLimit-* headers.
export function gatekeeperInterceptors(deps: GatekeeperDeps): Interceptor[] {
  return [createGatekeeperInterceptor(deps), createErrorInterceptor(deps.logger)];
}

export function createGatekeeperInterceptor(deps: GatekeeperDeps): Interceptor {
  // A client address that keeps failing is refused before its keys are
  // looked up, so guessing keys costs the database nothing. Every failure is
  // charged, also those of a parallel wave that passed the check together.
  async function authenticate(authorization: string | null, clientAddress: string): Promise<AuthenticatedCaller> {
    const bucket = failureBucket(clientAddress);
    const allowance = deps.failures.check(bucket);
    if (!allowance.allowed) {
      throw withHeaders(rateLimited(allowance.retryAfterMs, { limit: "failed_authentication" }), undefined, allowance.retryAfterMs);
    }
    try {
      return await deps.authenticator.authenticate(authorization);
    } catch (err) {
      if (err instanceof ConnectError && err.code === Code.Unauthenticated) deps.failures.charge(bucket);
      throw err;
    }
  }

  return (next) => async (req) => {
    if (publicServices.has(req.service.typeName)) return next(req);
    const caller = await authenticate(req.header.get("authorization"), req.contextValues.get(remoteAddressKey));
    const scope = requiredScope(req.method);
    if (!heldScopes(caller.scopes).includes(scope)) {
      throw apiError(Code.PermissionDenied, "API_KEY_SCOPE_MISSING", `this API key lacks the ${scope} scope`, {
        scope,
        api_key_id: caller.apiKeyId ?? "",
      });
    }
    const headers = await deps.limits.admit(caller, `${req.service.typeName}/${req.method.name}`);
    req.contextValues.set(callerKey, caller);
    try {
      const res = await next(req);
      applyHeaders(res.header, headers);
      return res;
    } catch (err) {
      if (err instanceof ConnectError) applyHeaders(err.metadata, headers);
      throw err;
    }
  };
}
