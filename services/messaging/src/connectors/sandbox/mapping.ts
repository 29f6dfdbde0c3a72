import { ConnectorError, type ProviderFailure } from "@onerouter/routing";
import type { ProviderMessageStatus } from "../connector";

// The sandbox's wire shape of a message.
export interface SandboxMessage {
  id: string;
  attempt_id: string | null;
  status: string;
  failure: { code: string; message: string } | null;
}

// The sandbox names its statuses after OneRouter's.
const statuses: Record<string, ProviderMessageStatus> = {
  queued: "queued",
  sent: "sent",
  delivered: "delivered",
  failed: "failed",
  undelivered: "undelivered",
};

export function status(provider: string, message: SandboxMessage): ProviderMessageStatus {
  const mapped = statuses[message.status];
  if (!mapped) {
    // An answer this connector does not know; the message may have been taken.
    throw new ConnectorError("ambiguous", provider, `the sandbox answered with an unknown message status ${message.status}`, {
      reason: "PROVIDER_INVALID_RESPONSE",
    });
  }
  return mapped;
}

export function failure(message: SandboxMessage): ProviderFailure | undefined {
  return message.failure
    ? { reason: "MESSAGE_UNDELIVERED", message: message.failure.message, providerCode: message.failure.code }
    : undefined;
}
