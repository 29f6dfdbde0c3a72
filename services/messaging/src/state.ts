import { EventType } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { MessageStatus } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import type { ProviderMessageStatus } from "./connectors/connector";

// The life of a message: QUEUED until a provider accepts it (SENT), then
// DELIVERED or UNDELIVERED as the provider reports; FAILED when no provider
// took it or the one that did reports it could not send it. An attempt whose
// outcome is unknown leaves the message QUEUED: sending it elsewhere could
// deliver it twice, so only that provider's callback settles it.

export type MessageState = "queued" | "sent" | "delivered" | "failed" | "undelivered";
// pending: the call is in flight; unknown: it ended without an answer.
export type AttemptState = "pending" | "unknown" | "sent" | "delivered" | "failed" | "undelivered";

const transitions: Record<MessageState, readonly MessageState[]> = {
  queued: ["sent", "delivered", "failed", "undelivered"],
  sent: ["delivered", "failed", "undelivered"],
  delivered: [],
  failed: [],
  undelivered: [],
};

export function canTransition(from: MessageState, to: MessageState): boolean {
  return transitions[from].includes(to);
}

// Attempts move like their message once the provider has answered.
export function attemptCanMove(from: AttemptState, to: AttemptState): boolean {
  if (from === "pending") return to !== "pending";
  if (from === "unknown") return to !== "pending" && to !== "unknown";
  return canTransition(from, to as MessageState);
}

// The events a change of status emits. Reaching a delivery outcome straight
// from QUEUED means the provider took the message, so it was sent too.
export function eventTypes(from: MessageState, to: MessageState): EventType[] {
  const sentFirst = from === "queued" && (to === "delivered" || to === "undelivered") ? [EventType.MESSAGE_SENT] : [];
  switch (to) {
    case "queued":
      return [];
    case "sent":
      return [EventType.MESSAGE_SENT];
    case "delivered":
      return [...sentFirst, EventType.MESSAGE_DELIVERED];
    case "failed":
    case "undelivered":
      return [...sentFirst, EventType.MESSAGE_FAILED];
  }
}

// A provider's word on a message, in OneRouter's states: whatever it calls
// its queue, the provider has taken the message.
export function stateFromProvider(status: ProviderMessageStatus): Exclude<MessageState, "queued"> {
  return status === "queued" ? "sent" : status;
}

export const messageStatuses: Record<MessageState, MessageStatus> = {
  queued: MessageStatus.QUEUED,
  sent: MessageStatus.SENT,
  delivered: MessageStatus.DELIVERED,
  failed: MessageStatus.FAILED,
  undelivered: MessageStatus.UNDELIVERED,
};

// The API has no status of its own for an attempt in flight or of unknown
// outcome: both read QUEUED, the latter with the error that left it unknown.
export const attemptStatuses: Record<AttemptState, MessageStatus> = {
  ...messageStatuses,
  pending: MessageStatus.QUEUED,
  unknown: MessageStatus.QUEUED,
};

export function messageStateOf(status: MessageStatus): MessageState | undefined {
  return (Object.keys(messageStatuses) as MessageState[]).find((s) => messageStatuses[s] === status);
}
