import type { Payments } from "razorpay/dist/types/payments";
import type { Refunds } from "razorpay/dist/types/refunds";
import {
  ConnectorError,
  type CreatePaymentInput,
  type MetadataLimits,
  type PaymentResult,
  type ProviderFailure,
  type RefundResult,
} from "../connector";
import { fromRazorpayAmount } from "./amounts";

export type RazorpayPayment = Payments.RazorpayPayment;
export type RazorpayRefund = Refunds.RazorpayRefund;

// Notes OneRouter keeps on Razorpay entities.
export const noteKeys = {
  attemptId: "onerouter_attempt_id",
  paymentId: "onerouter_payment_id",
  // On a payment: the amount OneRouter captured when it was less than the
  // authorization (Razorpay captures the whole authorization; the rest is refunded).
  capturedAmount: "onerouter_captured_amount",
  // On an authorized payment OneRouter will never capture.
  canceled: "onerouter_canceled",
  // On refunds: what the refund is for.
  refundId: "onerouter_refund_id",
  refundKey: "onerouter_refund_key",
  refundReason: "onerouter_refund_reason",
  captureRemainder: "onerouter_capture_remainder",
} as const;

// Razorpay keeps at most 15 notes of 256 characters on an entity. Three are
// OneRouter's own (attempt, payment, and one of captured amount / canceled);
// the payment's metadata gets the rest: its first 12 entries, values cut to
// 256 characters. The whole metadata stays on the OneRouter payment.
const noteLimit = 15;
const noteLength = 256;
export const razorpayNoteLimits: MetadataLimits = {
  maxKeys: noteLimit - 3,
  maxKeyLength: noteLength,
  maxValueLength: noteLength,
  forbiddenKeyCharacters: "",
  beyond: "cut",
};

// Razorpay sends empty notes as [] and values as strings or numbers.
export function notesOf(entity: { notes?: unknown }): Record<string, string> {
  const notes: Record<string, string> = {};
  if (typeof entity.notes !== "object" || entity.notes === null) return notes;
  for (const [key, value] of Object.entries(entity.notes)) {
    if (typeof value === "string" || typeof value === "number") notes[key] = String(value);
  }
  return notes;
}

export function paymentNotes(input: CreatePaymentInput): Record<string, string> {
  const notes: Record<string, string> = {
    [noteKeys.attemptId]: input.attemptId,
    [noteKeys.paymentId]: input.paymentId,
  };
  for (const [key, value] of Object.entries(input.metadata).slice(0, noteLimit - 3)) {
    notes[key] = value.slice(0, noteLength);
  }
  return notes;
}

// Razorpay's failure reasons, normalized to OneRouter's decline codes.
const declineCodes: Record<string, string> = {
  insufficient_funds: "insufficient_funds",
  card_declined: "card_declined",
  card_expired: "expired_card",
  incorrect_cvv: "incorrect_cvc",
  card_number_invalid: "incorrect_number",
  incorrect_card_details: "incorrect_number",
  authentication_failed: "authentication_required",
  payment_risk_check_failed: "fraudulent",
  debit_instrument_blocked: "card_declined",
  debit_instrument_inactive: "card_declined",
  transaction_limit_exceeded: "card_velocity_exceeded",
};

export function declineFailure(reason: string | null | undefined, code: string | null | undefined, description: string | null | undefined): ProviderFailure {
  return {
    reason: "PROVIDER_DECLINED",
    message: description ?? "Razorpay declined the payment",
    declineCode: (reason && declineCodes[reason]) ?? "card_declined",
    providerCode: reason ?? code ?? undefined,
  };
}

// A successful answer that is not the Razorpay entity asked for (a gateway's
// JSON with a 2xx, a status this code does not know) is not a result: the
// request may have reached Razorpay, so it is ambiguous.
export function notRazorpaysEntity(what: string): ConnectorError {
  return new ConnectorError("ambiguous", "razorpay", `Razorpay's answer is not ${what}`, { reason: "PROVIDER_INVALID_RESPONSE" });
}

function expectEntity(value: unknown, entity: string): void {
  const answer = typeof value === "object" && value !== null ? (value as { entity?: unknown; id?: unknown }) : undefined;
  if (answer?.entity !== entity || typeof answer.id !== "string") throw notRazorpaysEntity(`a ${entity}`);
}

// The items of a Razorpay collection.
export function itemsOf<T>(collection: { items: T[] }): T[] {
  if (!Array.isArray((collection as { items?: unknown } | null)?.items)) throw notRazorpaysEntity("a collection");
  return collection.items;
}

export function paymentResult(payment: RazorpayPayment): PaymentResult {
  expectEntity(payment, "payment");
  const providerPaymentId = payment.id;
  const notes = notesOf(payment);
  const amount = fromRazorpayAmount(payment.amount);
  const capturedNote = notes[noteKeys.capturedAmount];
  const captured = capturedNote === undefined ? amount : BigInt(capturedNote);
  switch (payment.status) {
    case "created":
      // Waiting for the customer, e.g. at the 3-D Secure redirect.
      return { status: "requires_action", providerPaymentId };
    case "authorized":
      return notes[noteKeys.canceled]
        ? { status: "canceled", providerPaymentId }
        : { status: "requires_capture", providerPaymentId, amountCapturable: amount };
    case "captured":
      return { status: "succeeded", providerPaymentId, amountCaptured: captured };
    case "refunded":
      // Razorpay refunds an authorization that was never captured when its
      // capture window ends: for OneRouter that payment was canceled.
      return payment.captured
        ? { status: "succeeded", providerPaymentId, amountCaptured: captured }
        : { status: "canceled", providerPaymentId };
    case "failed":
      return {
        status: "declined",
        providerPaymentId,
        failure: declineFailure(payment.error_reason, payment.error_code, payment.error_description),
      };
    default:
      throw notRazorpaysEntity(`a payment in a known status (${String(payment.status)})`);
  }
}

// Of the payments on an order (newest first), the one that tells what became
// of the attempt: money taken beats pending beats failed.
export function decisivePayment(payments: RazorpayPayment[]): RazorpayPayment | undefined {
  const rank = (p: RazorpayPayment) => ["captured", "refunded", "authorized", "created", "failed"].indexOf(p.status);
  return [...payments].sort((a, b) => rank(a) - rank(b))[0];
}

export function refundResult(refund: RazorpayRefund): RefundResult {
  expectEntity(refund, "refund");
  switch (refund.status) {
    case "processed":
      return { status: "succeeded", providerRefundId: refund.id };
    case "pending":
      return { status: "pending", providerRefundId: refund.id };
    case "failed":
      return {
        status: "failed",
        providerRefundId: refund.id,
        failure: { reason: "PROVIDER_REFUND_FAILED", message: "Razorpay could not process the refund" },
      };
    default:
      throw notRazorpaysEntity(`a refund in a known status (${String(refund.status)})`);
  }
}

export function isCaptureRemainder(refund: RazorpayRefund): boolean {
  return notesOf(refund)[noteKeys.captureRemainder] !== undefined;
}
