import { isIP } from "node:net";
import { Code, ConnectError, type Interceptor, type UnaryRequest, type StreamRequest } from "@connectrpc/connect";
import { callerMayCall, methodAccess, sessionTokenFromCookies } from "@onerouter/admin";
import { isMutatingMethod, requiredScope } from "@onerouter/client";
import { apiError, callerKey, createErrorInterceptor, environmentName, rateLimited, remoteAddressKey, requestOriginKey, type Caller, type Logger } from "@onerouter/core";
import type { ApiKeyAuthenticator, AuthenticatedCaller } from "./authenticator";
import { applyHeaders, withHeaders, type CallLimits } from "./call-limits";
import type { TokenBucketLimiter } from "./rate-limiter";
import { environmentHeader, type SessionAuthenticator } from "./session-authenticator";

// Services anyone may call without a key: probes must work before keys
// exist, and the API's shape (reflection) is as public as its docs.
const publicServices = new Set(["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]);

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

type Request = UnaryRequest | StreamRequest;

// A browser sends the session cookie with every request to this server, also
// one a page elsewhere makes it send. Such a page cannot set the Connect
// header without a preflight, nor choose its Origin: a state-changing call
// with a session needs both, and the Origin must be this server's own or one
// allowed for CORS. A request without a cookie carries no ambient authority.
function refuseCrossSite(req: Request, allowedOrigins: ReadonlySet<string>): void {
  if (!isMutatingMethod(req.method)) return;
  const origin = req.header.get("origin");
  const own = req.contextValues.get(requestOriginKey).origin;
  const sameOrigin = origin !== null && origin !== "" && (origin === own || allowedOrigins.has(origin));
  if (!req.header.has("connect-protocol-version") || !sameOrigin) {
    throw apiError(
      Code.PermissionDenied,
      "CROSS_SITE_REQUEST",
      "a state-changing call with a session needs the Connect-Protocol-Version header and a same-origin Origin",
      { origin: origin ?? "" },
    );
  }
}

export interface GatekeeperDeps {
  authenticator: ApiKeyAuthenticator;
  sessions: SessionAuthenticator;
  // Rates, quotas and usage counts of authenticated callers.
  limits: CallLimits;
  // Failed authentications per client address.
  failures: TokenBucketLimiter;
  // Origins besides the request's own that state-changing session calls may come from.
  allowedOrigins?: readonly string[];
  logger: Logger;
}

// The gatekeeper's interceptor, then one that gives the services' errors
// their ErrorInfo (logging internal ones), so every answer to an admitted
// call, success or error, can carry its RateLimit-* headers.
export function gatekeeperInterceptors(deps: GatekeeperDeps): Interceptor[] {
  return [createGatekeeperInterceptor(deps), createErrorInterceptor(deps.logger)];
}

export function createGatekeeperInterceptor(deps: GatekeeperDeps): Interceptor {
  const allowedOrigins = new Set(deps.allowedOrigins ?? []);

  // A client address that keeps failing is refused before its keys are
  // looked up, so guessing keys, sessions or passwords costs the database
  // nothing. Every failure is charged, also those of a parallel wave that
  // passed the check together.
  async function chargingFailures<T>(req: Request, attempt: () => Promise<T>): Promise<T> {
    const bucket = failureBucket(req.contextValues.get(remoteAddressKey));
    const allowance = deps.failures.check(bucket);
    if (!allowance.allowed) {
      throw withHeaders(rateLimited(allowance.retryAfterMs, { limit: "failed_authentication" }), undefined, allowance.retryAfterMs);
    }
    try {
      return await attempt();
    } catch (err) {
      if (err instanceof ConnectError && err.code === Code.Unauthenticated) deps.failures.charge(bucket);
      throw err;
    }
  }

  // An API key in Authorization, else a session cookie.
  async function authenticate(req: Request): Promise<AuthenticatedCaller> {
    const authorization = req.header.get("authorization");
    const sessionToken = authorization === null ? sessionTokenFromCookies(req.header.get("cookie")) : undefined;
    if (sessionToken === undefined) return deps.authenticator.authenticate(authorization);
    refuseCrossSite(req, allowedOrigins);
    return deps.sessions.authenticate(sessionToken, req.header.get(environmentHeader));
  }

  return (next) => async (req) => {
    if (publicServices.has(req.service.typeName)) return next(req);
    // Signing in needs no identity, but a wrong password is a failed
    // authentication like an unknown key: guessing passwords from one
    // address is limited (besides the lockout per email).
    if (methodAccess(req.method) === "public") return chargingFailures(req, () => next(req));
    const caller = await chargingFailures(req, () => authenticate(req));
    if (!callerMayCall(caller, req.method)) throw denied(caller, req);
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

function denied(caller: Caller, req: Request): ConnectError {
  const method = `${req.method.parent.typeName}/${req.method.name}`;
  if (caller.member) {
    const environment = environmentName(caller.environment);
    return apiError(
      Code.PermissionDenied,
      "ROLE_NOT_PERMITTED",
      `the ${caller.member.role} role may not call ${method} in the ${environment} environment`,
      { role: caller.member.role, method, environment },
    );
  }
  const scope = requiredScope(req.method);
  return apiError(Code.PermissionDenied, "API_KEY_SCOPE_MISSING", `this API key lacks the ${scope} scope`, {
    scope,
    api_key_id: caller.apiKeyId ?? "",
  });
}
