import { verifiedSandboxEvent } from "@onerouter/sandbox";
import type { ConnectorContext, WebhookInput } from "@onerouter/routing";
import type { MessageStatusEvent } from "../connector";
import { failure, status, type SandboxMessage } from "./mapping";

// A signed sandbox callback about a message.
export async function parseCallback(provider: string, ctx: ConnectorContext, input: WebhookInput): Promise<MessageStatusEvent[]> {
  const event = verifiedSandboxEvent(provider, ctx.credentials.api_key ?? "", input, "callback");
  if (!event.type.startsWith("message.")) return [];
  const message = event.data.object as SandboxMessage;
  const problem = failure(message);
  return [
    {
      providerEventId: event.id,
      providerMessageId: message.id,
      ...(message.attempt_id && { attemptId: message.attempt_id }),
      status: status(provider, message),
      ...(problem && { failure: problem }),
    },
  ];
}
