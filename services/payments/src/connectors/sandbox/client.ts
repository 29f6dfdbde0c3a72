import { callSandbox as callSandboxApi, sandboxProviders, type SandboxCall } from "@onerouter/sandbox";
import type { ConnectorContext } from "../connector";

// The sandbox client the messaging sandbox shares, speaking as this connector.
export const provider = sandboxProviders.payments;

export function callSandbox<T>(ctx: ConnectorContext, call: SandboxCall): Promise<T> {
  return callSandboxApi<T>(provider, ctx, call);
}
