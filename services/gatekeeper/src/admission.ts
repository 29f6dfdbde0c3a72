import { isIP } from "node:net";
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { callerMayCall, methodAccess, sessionTokenFromCookies } from "@onerouter/admin";
import { isMutatingMethod, requiredScope } from "@onerouter/client";
import { apiError, environmentName, rateLimited, type Caller } from "@onerouter/core";
import type { ApiKeyAuthenticator, AuthenticatedCaller } from "./authenticator";
import { withHeaders } from "./call-limits";
import type { FailureCounter } from "./rate-limiter";
import { environmentHeader, type SessionAuthenticator } from "./session-authenticator";

// Who is calling and whether they may call: the one decision behind the
// in-process interceptor and Envoy's ext_authz Check.

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

// A call as the gatekeeper sees it, from either front.
export interface CallAttempt {
  method: DescMethod;
  header: Headers;
  // The client's address, for failed authentications.
  remoteAddress: string;
  // The origin the request was addressed to (scheme, host and port).
  ownOrigin: string;
}

export interface AdmissionDeps {
  authenticator: ApiKeyAuthenticator;
  sessions: SessionAuthenticator;
  // Failed authentications per client address.
  failures: FailureCounter;
  // Origins besides the request's own that state-changing session calls may come from.
  allowedOrigins?: readonly string[];
}

export class Admission {
  private readonly allowedOrigins: ReadonlySet<string>;

  constructor(private readonly deps: AdmissionDeps) {
    this.allowedOrigins = new Set(deps.allowedOrigins ?? []);
  }

  // Whether the method needs no caller (signing in, accepting an invitation).
  isPublic(method: DescMethod): boolean {
    return methodAccess(method) === "public";
  }

  // A client address that keeps failing is refused before its keys are
  // looked up, so guessing keys, sessions or passwords costs the database
  // nothing. Every failure is charged, also those of a parallel wave that
  // passed the check together.
  async chargingFailures<T>(remoteAddress: string, attempt: () => Promise<T>): Promise<T> {
    const bucket = failureBucket(remoteAddress);
    const refusal = await this.refusalOfFailures(remoteAddress);
    if (refusal) throw refusal;
    try {
      return await attempt();
    } catch (err) {
      if (err instanceof ConnectError && err.code === Code.Unauthenticated) await this.deps.failures.charge(bucket);
      throw err;
    }
  }

  // The refusal of a client address that has failed too often, if it has.
  async refusalOfFailures(remoteAddress: string): Promise<ConnectError | undefined> {
    const allowance = await this.deps.failures.check(failureBucket(remoteAddress));
    if (allowance.allowed) return undefined;
    return withHeaders(rateLimited(allowance.retryAfterMs, { limit: "failed_authentication" }), undefined, allowance.retryAfterMs);
  }

  // The caller of a method that needs one, allowed by its scopes or role; or
  // the refusal: UNAUTHENTICATED (charged to the client's address),
  // PERMISSION_DENIED, or a suspended tenant's.
  async identify(call: CallAttempt): Promise<AuthenticatedCaller> {
    const caller = await this.chargingFailures(call.remoteAddress, () => this.authenticate(call));
    if (!callerMayCall(caller, call.method)) throw denied(caller, call.method);
    return caller;
  }

  // An API key in Authorization, else a session cookie.
  private async authenticate(call: CallAttempt): Promise<AuthenticatedCaller> {
    const authorization = call.header.get("authorization");
    const sessionToken = authorization === null ? sessionTokenFromCookies(call.header.get("cookie")) : undefined;
    if (sessionToken === undefined) return this.deps.authenticator.authenticate(authorization);
    this.refuseCrossSite(call);
    return this.deps.sessions.authenticate(sessionToken, call.header.get(environmentHeader));
  }

  // A browser sends the session cookie with every request to this server, also
  // one a page elsewhere makes it send. Such a page cannot set the Connect
  // header without a preflight, nor choose its Origin: a state-changing call
  // with a session needs both, and the Origin must be this server's own or one
  // allowed for CORS. A request without a cookie carries no ambient authority.
  private refuseCrossSite(call: CallAttempt): void {
    if (!isMutatingMethod(call.method)) return;
    const origin = call.header.get("origin");
    const sameOrigin = origin !== null && origin !== "" && (origin === call.ownOrigin || this.allowedOrigins.has(origin));
    if (!call.header.has("connect-protocol-version") || !sameOrigin) {
      throw apiError(
        Code.PermissionDenied,
        "CROSS_SITE_REQUEST",
        "a state-changing call with a session needs the Connect-Protocol-Version header and a same-origin Origin",
        { origin: origin ?? "" },
      );
    }
  }
}

function denied(caller: Caller, method: DescMethod): ConnectError {
  const name = `${method.parent.typeName}/${method.name}`;
  if (caller.member) {
    const environment = environmentName(caller.environment);
    return apiError(
      Code.PermissionDenied,
      "ROLE_NOT_PERMITTED",
      `the ${caller.member.role} role may not call ${name} in the ${environment} environment`,
      { role: caller.member.role, method: name, environment },
    );
  }
  const scope = requiredScope(method);
  return apiError(Code.PermissionDenied, "API_KEY_SCOPE_MISSING", `this API key lacks the ${scope} scope`, {
    scope,
    api_key_id: caller.apiKeyId ?? "",
  });
}
