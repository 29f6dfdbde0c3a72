import { callSandbox, type SandboxCall } from "@onerouter/sandbox";
import type { ConnectorContext } from "@onerouter/routing";
import type { SendResult } from "../connector";
import { failure, status, type SandboxMessage } from "./mapping";

// One message through the sandbox: the attempt id is its idempotency key and
// goes along as attempt_id, which callbacks carry back.
export async function sendMessage(provider: string, ctx: ConnectorContext, attemptId: string, body: Record<string, unknown>): Promise<SendResult> {
  const call: SandboxCall = { method: "POST", path: "/v1/messages", idempotencyKey: attemptId, body: { ...body, attempt_id: attemptId } };
  const message = await callSandbox<SandboxMessage>(provider, ctx, call);
  const problem = failure(message);
  return { providerMessageId: message.id, status: status(provider, message), ...(problem && { failure: problem }) };
}
