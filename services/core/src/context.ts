import { createContextKey } from "@connectrpc/connect";
import type { RequestOrigin } from "./client-address";
import type { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";

export type MemberRole = "owner" | "admin" | "developer" | "viewer";

// What the gatekeeper learned about the caller, for the services to scope
// every query by tenant and environment. An API key and a member's console
// session become the same shape.
export interface Caller {
  tenantId: string;
  environment: Environment;
  // Who acts, as the audit log names them: `api_key:<id>` or `member:<id>`.
  actor: string;
  // Set when the caller is an API key.
  apiKeyId?: string;
  // Set when the caller is a member signed in to the console.
  member?: { id: string; role: MemberRole; sessionId: string };
  // For a key, its scopes as stored (empty: all of them); for a member, the
  // scopes its role grants in this environment.
  scopes: string[];
  // The counted limits of the tenant's plan (zero: unlimited), for the room
  // that creates a counted thing to check; absent for the system's own calls.
  plan?: PlanCounts;
}

export interface PlanCounts {
  id: string;
  members: number;
  providerAccounts: number;
  webhookEndpoints: number;
}

export const callerKey = createContextKey<Caller | undefined>(undefined, { description: "authenticated caller" });
export const remoteAddressKey = createContextKey<string>("", { description: "peer address" });
// Where the request was addressed (see client-address.ts); empty outside an HTTP server.
export const requestOriginKey = createContextKey<RequestOrigin>({ origin: "", secure: false }, { description: "request origin" });
