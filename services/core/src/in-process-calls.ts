import type { DescService } from "@bufbuild/protobuf";
import { createClient, createRouterTransport, type Client, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { callerKey, type Caller } from "./context";
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
