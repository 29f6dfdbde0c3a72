import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { callerKey, createErrorInterceptor, remoteAddressKey, requestOriginKey, type Logger } from "@onerouter/core";
import { Admission, type AdmissionDeps } from "./admission";
import { applyHeaders, type CallLimits } from "./call-limits";

// Services anyone may call without a key: probes must work before keys
// exist, and the API's shape (reflection) is as public as its docs.
export const publicServices: ReadonlySet<string> = new Set([
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
]);

export interface GatekeeperDeps extends AdmissionDeps {
  // Rates, quotas and usage counts of authenticated callers.
  limits: CallLimits;
  logger: Logger;
}

// The gatekeeper's interceptor, then one that gives the services' errors
// their ErrorInfo (logging internal ones), so every answer to an admitted
// call, success or error, can carry its RateLimit-* headers.
export function gatekeeperInterceptors(deps: GatekeeperDeps): Interceptor[] {
  return [createGatekeeperInterceptor(deps), createErrorInterceptor(deps.logger)];
}

export function createGatekeeperInterceptor(deps: GatekeeperDeps): Interceptor {
  const admission = new Admission(deps);
  return (next) => async (req) => {
    if (publicServices.has(req.service.typeName)) return next(req);
    const remoteAddress = req.contextValues.get(remoteAddressKey);
    // Signing in needs no identity, but a wrong password is a failed
    // authentication like an unknown key: guessing passwords from one
    // address is limited (besides the lockout per email).
    if (admission.isPublic(req.method)) return admission.chargingFailures(remoteAddress, () => next(req));
    const caller = await admission.identify({
      method: req.method,
      header: req.header,
      remoteAddress,
      ownOrigin: req.contextValues.get(requestOriginKey).origin,
    });
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
