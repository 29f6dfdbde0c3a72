import { createContextKey } from "@connectrpc/connect";
import type { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";

// What the gatekeeper learned about the caller, for the services to scope
// every query by tenant and environment.
export interface Caller {
  tenantId: string;
  environment: Environment;
  apiKeyId: string;
  scopes: string[];
}

export const callerKey = createContextKey<Caller | undefined>(undefined, { description: "authenticated caller" });
export const remoteAddressKey = createContextKey<string>("", { description: "peer address" });
