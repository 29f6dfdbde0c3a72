import { Code, type Interceptor } from "@connectrpc/connect";
import { heldScopes, requiredScope } from "@onerouter/client";
import { apiError, callerKey, rateLimited } from "@onerouter/core";
import type { ApiKeyAuthenticator } from "./authenticator";
import type { TokenBucketLimiter } from "./rate-limiter";

// Services anyone may call without a key: probes must work before keys exist.
const publicServices = new Set(["grpc.health.v1.Health"]);

export function createGatekeeperInterceptor(deps: {
  authenticator: ApiKeyAuthenticator;
  limiter: TokenBucketLimiter;
}): Interceptor {
  return (next) => async (req) => {
    if (publicServices.has(req.service.typeName)) return next(req);
    const caller = await deps.authenticator.authenticate(req.header.get("authorization"));
    const scope = requiredScope(req.service.typeName, req.method.name);
    if (!heldScopes(caller.scopes).includes(scope)) {
      throw apiError(Code.PermissionDenied, "API_KEY_SCOPE_MISSING", `this API key lacks the ${scope} scope`, {
        scope,
        api_key_id: caller.apiKeyId,
      });
    }
    const decision = deps.limiter.take(caller.apiKeyId);
    if (!decision.allowed) throw rateLimited(decision.retryAfterMs, { api_key_id: caller.apiKeyId });
    req.contextValues.set(callerKey, caller);
    return next(req);
  };
}
