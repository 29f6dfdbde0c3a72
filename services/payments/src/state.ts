import { EventType } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { AttemptStatus, PaymentStatus, RefundStatus } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { failedPrecondition } from "@onerouter/core";
import type { ProviderPaymentStatus } from "./connectors/connector";

// The life of a payment. PROCESSING while a provider call is in flight or
// its outcome is being resolved; SUCCEEDED, FAILED and CANCELED are final.

export type PaymentState = "processing" | "requires_action" | "requires_capture" | "succeeded" | "failed" | "canceled";
export type AttemptState = "pending" | "succeeded" | "requires_action" | "requires_capture" | "declined" | "failed" | "unknown";
export type RefundState = "pending" | "succeeded" | "failed";

const transitions: Record<PaymentState, readonly PaymentState[]> = {
  processing: ["requires_action", "requires_capture", "succeeded", "failed", "canceled"],
  requires_action: ["requires_capture", "succeeded", "failed", "canceled"],
  requires_capture: ["succeeded", "canceled"],
  succeeded: [],
  failed: [],
  canceled: [],
};

export function canTransition(from: PaymentState, to: PaymentState): boolean {
  return transitions[from].includes(to);
}

const paymentEventTypes: Record<Exclude<PaymentState, "processing">, EventType> = {
  requires_action: EventType.PAYMENT_REQUIRES_ACTION,
  requires_capture: EventType.PAYMENT_REQUIRES_CAPTURE,
  succeeded: EventType.PAYMENT_SUCCEEDED,
  failed: EventType.PAYMENT_FAILED,
  canceled: EventType.PAYMENT_CANCELED,
};

// The events a change of status emits. A capture is also the success.
export function eventTypes(from: PaymentState, to: PaymentState): EventType[] {
  if (to === "processing") return [];
  if (to === "succeeded" && from === "requires_capture") return [EventType.PAYMENT_CAPTURED, EventType.PAYMENT_SUCCEEDED];
  return [paymentEventTypes[to]];
}

// The event a refund's final status emits.
export const refundEventTypes: Record<Exclude<RefundState, "pending">, EventType> = {
  succeeded: EventType.REFUND_SUCCEEDED,
  failed: EventType.REFUND_FAILED,
};

export const paymentStatuses: Record<PaymentState, PaymentStatus> = {
  processing: PaymentStatus.PROCESSING,
  requires_action: PaymentStatus.REQUIRES_ACTION,
  requires_capture: PaymentStatus.REQUIRES_CAPTURE,
  succeeded: PaymentStatus.SUCCEEDED,
  failed: PaymentStatus.FAILED,
  canceled: PaymentStatus.CANCELED,
};

export const attemptStatuses: Record<AttemptState, AttemptStatus> = {
  pending: AttemptStatus.PENDING,
  succeeded: AttemptStatus.SUCCEEDED,
  requires_action: AttemptStatus.REQUIRES_ACTION,
  requires_capture: AttemptStatus.REQUIRES_CAPTURE,
  declined: AttemptStatus.DECLINED,
  failed: AttemptStatus.FAILED,
  unknown: AttemptStatus.UNKNOWN,
};

export const refundStatuses: Record<RefundState, RefundStatus> = {
  pending: RefundStatus.PENDING,
  succeeded: RefundStatus.SUCCEEDED,
  failed: RefundStatus.FAILED,
};

export function paymentStateOf(status: PaymentStatus): PaymentState | undefined {
  return (Object.keys(paymentStatuses) as PaymentState[]).find((s) => paymentStatuses[s] === status);
}

// Where a provider's answer about the money leaves the payment and the attempt.
export function statesFromProvider(status: ProviderPaymentStatus): { payment: PaymentState; attempt: AttemptState } {
  switch (status) {
    case "succeeded":
    case "requires_capture":
    case "requires_action":
      return { payment: status, attempt: status };
    case "processing":
      return { payment: "processing", attempt: "pending" };
    case "declined":
      return { payment: "failed", attempt: "declined" };
    case "canceled":
      return { payment: "canceled", attempt: "failed" };
  }
}

// An operation the payment's status does not allow.
export function paymentStateInvalid(paymentId: string, current: PaymentState, operation: string, allowed: PaymentState[]) {
  const name = (s: PaymentState) => PaymentStatus[paymentStatuses[s]];
  const status = `PAYMENT_STATUS_${name(current)}`;
  return failedPrecondition(
    "PAYMENT_STATE_INVALID",
    `payment ${paymentId} is ${status}; ${operation} needs ${allowed.map((s) => `PAYMENT_STATUS_${name(s)}`).join(" or ")}`,
    { payment_id: paymentId, status, operation },
  );
}
