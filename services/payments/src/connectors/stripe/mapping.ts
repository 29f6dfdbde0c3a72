import type Stripe from "stripe";
import {
  ConnectorError,
  type PaymentResult,
  type ProviderFailure,
  type ProviderPaymentStatus,
  type RefundResult,
} from "../connector";
import { fromStripeAmount } from "./amounts";
import {
  answeredFailure,
  type DocumentedStatuses,
  notProvidersAnswer,
  statusMeaning,
  transportFailure,
} from "@onerouter/routing";

// Metadata keys that tie a Stripe object back to OneRouter; syncPayment
// searches by the attempt id after an ambiguous call.
export const attemptIdKey = "onerouter_attempt_id";
export const paymentIdKey = "onerouter_payment_id";
export const refundIdKey = "onerouter_refund_id";

function paymentStatus(intent: Stripe.PaymentIntent): ProviderPaymentStatus {
  switch (intent.status) {
    case "succeeded":
      return "succeeded";
    case "requires_capture":
      return "requires_capture";
    case "requires_action":
      return "requires_action";
    case "canceled":
      return "canceled";
    // A confirmation that failed (decline, failed 3D Secure) puts the intent
    // back to requires_payment_method with the reason in last_payment_error.
    case "requires_payment_method":
      return "declined";
    // processing, requires_confirmation and statuses newer than this code: not final yet.
    default:
      return "processing";
  }
}

interface StripeDecline {
  code?: string | undefined;
  decline_code?: string | undefined;
  message?: string | undefined;
}

// Stripe's decline codes (insufficient_funds, generic_decline, ...) are the
// normalized vocabulary; errors without one (expired_card, failed 3D
// Secure) fall back to the error code.
function declineFailure(decline: StripeDecline | null | undefined): ProviderFailure {
  const declineCode = decline?.decline_code || decline?.code;
  return {
    reason: "PROVIDER_DECLINED",
    message: decline?.message || "Stripe declined the payment",
    ...(declineCode && { declineCode }),
    ...(decline?.code && { providerCode: decline.code }),
  };
}

// Stripe's answers name what they are in `object`. The SDK takes any JSON
// without Stripe's `error` object as success, whatever its status (a
// gateway's 502 too), so the status it came with is checked as well; and
// a 2xx that is not the object asked for is not Stripe's answer either: the
// request may still have reached Stripe, so it is ambiguous, never a result.
export function expectStripeObject(value: unknown, object: string): void {
  const answer = typeof value === "object" && value !== null ? (value as StripeAnswer) : undefined;
  const status = answer?.lastResponse?.statusCode;
  if (status !== undefined && (status < 200 || status > 299)) throw notProvidersAnswer("stripe", "Stripe", status);
  if (answer?.object === object && (object === "balance" || object === "search_result" || typeof answer.id === "string")) return;
  throw new ConnectorError("ambiguous", "stripe", `Stripe's answer is not a ${object}`, { reason: "PROVIDER_INVALID_RESPONSE" });
}

interface StripeAnswer {
  object?: unknown;
  id?: unknown;
  // Set by the SDK on what an API call returns.
  lastResponse?: { statusCode?: number };
}

export function paymentResult(intent: Stripe.PaymentIntent): PaymentResult {
  expectStripeObject(intent, "payment_intent");
  const status = paymentStatus(intent);
  const redirectUrl = intent.next_action?.redirect_to_url?.url;
  return {
    status,
    providerPaymentId: intent.id,
    amountCapturable: fromStripeAmount(intent.amount_capturable, intent.currency),
    amountCaptured: fromStripeAmount(intent.amount_received, intent.currency),
    ...(redirectUrl && { redirectUrl }),
    ...(status === "declined" && { failure: declineFailure(intent.last_payment_error) }),
  };
}

// A card decline comes back as HTTP 402 with the declined intent inside the
// error: it is an answer about the payment, not a failed call.
export function declinedResult(err: Stripe.errors.StripeCardError): PaymentResult {
  const failure = declineFailure(err);
  if (!err.payment_intent) return { status: "declined", providerPaymentId: "", failure };
  return { ...paymentResult(err.payment_intent), status: "declined", failure };
}

export function refundResult(refund: Stripe.Refund): RefundResult {
  expectStripeObject(refund, "refund");
  switch (refund.status) {
    case "succeeded":
      return { status: "succeeded", providerRefundId: refund.id };
    case "failed":
    case "canceled":
      return {
        status: "failed",
        providerRefundId: refund.id,
        failure: {
          reason: "PROVIDER_REFUND_FAILED",
          message: `Stripe reports the refund as ${refund.status}${
            refund.failure_reason ? `: ${refund.failure_reason}` : ""
          }`,
          providerCode: refund.failure_reason ?? refund.status,
        },
      };
    // pending, requires_action (the customer must supply details), or not yet known.
    default:
      return { status: "pending", providerRefundId: refund.id };
  }
}

// What Stripe documents its error statuses to mean. A 409 is another request
// with the same idempotency key still running at Stripe, so this attempt may
// yet take the money; a 500 Stripe documents as indeterminate: the request
// may have been processed, and only a sync with the same attempt can tell.
const stripeStatuses: DocumentedStatuses = {
  notProcessed: { 401: "PROVIDER_AUTHENTICATION_FAILED", 403: "PROVIDER_PERMISSION_DENIED", 429: "PROVIDER_RATE_LIMITED" },
  ambiguous: { 409: "PROVIDER_CONFLICT", "5xx": "PROVIDER_UNAVAILABLE" },
  rejected: "PROVIDER_INVALID_REQUEST",
};

function retryAfterMs(err: Stripe.errors.StripeError): number | undefined {
  const seconds = Number(err.headers?.["retry-after"]);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

// The SDK's error classes (the loaded SDK's Stripe.errors).
export type StripeErrors = typeof Stripe.errors;

// Maps any failure of an SDK call to the error kinds the core routes on.
// `attempts` counts the tries the SDK sent: after a retry, an earlier try
// may have reached Stripe, so nothing is provably unprocessed any more.
export function connectorError(err: unknown, errors: StripeErrors, attempts = 1): ConnectorError {
  const mapped = classify(err, errors);
  if (mapped.kind !== "not_processed" || attempts <= 1) return mapped;
  const message = `${mapped.message} (after ${attempts} tries; an earlier one was cut off)`;
  return new ConnectorError("ambiguous", "stripe", message, { ...mapped.details, reason: "PROVIDER_CONNECTION_LOST" });
}

function classify(err: unknown, errors: StripeErrors): ConnectorError {
  if (err instanceof ConnectorError) return err;
  // The SDK's timeout (ETIMEDOUT without a failed connect) or a reset leaves
  // the request possibly delivered: Stripe may have acted on it.
  if (err instanceof errors.StripeConnectionError) return transportFailure("stripe", "Stripe", err.detail);
  if (!(err instanceof errors.StripeError)) {
    // Not an answer from Stripe and not provably unsent: treat as unknown.
    return new ConnectorError("ambiguous", "stripe", `Stripe call failed: ${String(err)}`, {
      reason: "PROVIDER_UNEXPECTED_ERROR",
    });
  }
  const status = err.statusCode;
  const details = { ...(err.code && { providerCode: err.code }), ...(status !== undefined && { httpStatus: status }) };
  if (err instanceof errors.StripeRateLimitError || status === 429) {
    const wait = retryAfterMs(err);
    return new ConnectorError("not_processed", "stripe", err.message, {
      reason: statusMeaning(stripeStatuses, 429).reason,
      ...details,
      ...(wait !== undefined && { retryAfterMs: wait }),
    });
  }
  // Stripe's documented statuses decide before the kind of error does.
  if (status !== undefined && statusMeaning(stripeStatuses, status).kind !== "invalid_request") {
    return answeredFailure("stripe", stripeStatuses, status, err.message, details);
  }
  if (err.rawType === "idempotency_error") {
    return new ConnectorError("invalid_request", "stripe", err.message, {
      reason: "PROVIDER_IDEMPOTENCY_KEY_REUSED",
      ...details,
    });
  }
  if (err instanceof errors.StripeCardError) {
    return new ConnectorError("invalid_request", "stripe", err.message, { reason: "PROVIDER_DECLINED", ...details });
  }
  if (status !== undefined && status >= 400) return answeredFailure("stripe", stripeStatuses, status, err.message, details);
  // No status: the answer could not be read (e.g. not JSON) after the request was sent.
  return new ConnectorError("ambiguous", "stripe", err.message, { reason: "PROVIDER_INVALID_RESPONSE", ...details });
}
