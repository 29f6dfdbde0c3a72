import type { DescService } from "@bufbuild/protobuf";
import { createClient, createRouterTransport, type Client, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { callerKey, remoteAddressKey, type Caller } from "./context";
import { createErrorInterceptor } from "./errors";
import type { Logger } from "./logging";

// A room's calls to another room on a tenant's behalf (an invitation email
// sent through MessagingService), made in this process through that room's
// generated client. The caller is the system acting for the tenant, so the
// gatekeeper is not asked and nothing is counted against the plan.
export type TenantClientFactory<S extends DescService> = (tenantId: string, environment: Caller["environment"]) => Client<S>;

export function inProcessTenantClients<S extends DescService>(
  service: S,
  routes: (router: ConnectRouter) => void,
  logger: Logger,
  actor = "system",
): TenantClientFactory<S> {
  const errors = createErrorInterceptor(logger);
  // A transport per client: the caller is fixed by its interceptor, not by
  // anything the call carries.
  return (tenantId, environment) => {
    const asCaller: Interceptor = (next) => (req) => {
      req.contextValues.set(callerKey, { tenantId, environment, actor, scopes: [] });
      return next(req);
    };
    return createClient(service, createRouterTransport(routes, { router: { interceptors: [errors, asCaller] } }));
  };
}

// Where an HTTP route's in-process call carries the HTTP client's address.
// Only `inProcessClientOfRequest`'s transport reads it, and a route sets it
// itself, so a client cannot name its own address through it.
export const inProcessClientAddressHeader = "x-onerouter-in-process-client-address";

// An HTTP route's calls on behalf of whoever sent the HTTP request: each call
// passes the same interceptors as any RPC (the gatekeeper's among them) with
// the request's own credentials, so it is authenticated, authorized and rate
// limited like every call, keys and console sessions alike.
export function inProcessClientOfRequest<S extends DescService>(
  service: S,
  routes: (router: ConnectRouter) => void,
  interceptors: Interceptor[],
): Client<S> {
  const fromRoute: Interceptor = (next) => (req) => {
    req.contextValues.set(remoteAddressKey, req.header.get(inProcessClientAddressHeader) ?? "");
    req.header.delete(inProcessClientAddressHeader);
    return next(req);
  };
  return createClient(service, createRouterTransport(routes, { router: { interceptors: [fromRoute, ...interceptors] } }));
}
