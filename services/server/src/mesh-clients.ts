import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { traceContextInterceptor, type TenantClientFactory } from "@onerouter/core";
import { identityHeaders } from "@onerouter/gatekeeper";

// The mesh's form of core's inProcessTenantClients: a service's calls to
// another service on a tenant's behalf (admin's invitation email through
// MessagingService) go over gRPC straight to that service, carrying the mesh
// secret and the tenant's identity as Envoy would after the gatekeeper's
// Check. The caller is the system acting for the tenant, as in process. Each
// call carries the trace it is made in, so one trace spans both services.
export function meshTenantClients<S extends DescService>(service: S, baseUrl: string, meshSecret: string): TenantClientFactory<S> {
  // One HTTP/2 connection for every tenant's calls; each client adds its tenant's headers.
  const shared = createGrpcTransport({ baseUrl, interceptors: [traceContextInterceptor] });
  return (tenantId, environment) => {
    const identity = identityHeaders({ tenantId, environment, actor: "system", scopes: [] }, meshSecret);
    const withIdentity = (init: HeadersInit | undefined) => {
      const header = new Headers(init);
      for (const [name, value] of identity) header.set(name, value);
      return header;
    };
    const transport: Transport = {
      unary: (method, signal, timeoutMs, header, input, contextValues) =>
        shared.unary(method, signal, timeoutMs, withIdentity(header), input, contextValues),
      stream: (method, signal, timeoutMs, header, input, contextValues) =>
        shared.stream(method, signal, timeoutMs, withIdentity(header), input, contextValues),
    };
    return createClient(service, transport);
  };
}
