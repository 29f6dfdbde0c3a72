import { createHmac, timingSafeEqual } from "node:crypto";
import type Stripe from "stripe";
import { hasFieldTypes } from "@onerouter/routing";
import { ConnectorError, type PaymentWebhookEvent } from "../connector";
import { attemptIdKey, paymentResult, refundResult } from "./mapping";

// Stripe's default: a signed event older than five minutes is a replay; one
// signed further ahead of this clock is refused alike.
export const defaultToleranceSeconds = 300;

function rejected(message: string, reason: string): ConnectorError {
  return new ConnectorError("invalid_signature", "stripe", message, { reason });
}

// Checks a Stripe-Signature header (`t=<unix seconds>,v1=<hex>[,v1=<hex>...]`):
// some v1 must be the HMAC-SHA256 of `<t>.<raw body>` under the endpoint's
// secret (several appear while Stripe rolls a secret), and t must be within
// the tolerance of now, either way.
// Returns the signed timestamp; throws ConnectorError "invalid_signature".
export function verifyStripeSignature(
  rawBody: Buffer | string,
  header: string | undefined,
  secret: string,
  options: { toleranceSeconds?: number; nowSeconds?: number } = {},
): number {
  if (!header) throw rejected("Missing Stripe-Signature header", "WEBHOOK_SIGNATURE_MISSING");
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(",")) {
    const separator = part.indexOf("=");
    const name = part.slice(0, separator).trim();
    const value = part.slice(separator + 1).trim();
    if (name === "t" && /^\d+$/.test(value)) timestamp = Number(value);
    if (name === "v1" && /^[0-9a-f]{64}$/i.test(value)) signatures.push(Buffer.from(value, "hex"));
  }
  if (timestamp === undefined || signatures.length === 0) {
    throw rejected("Stripe-Signature header has no timestamp or v1 signature", "WEBHOOK_SIGNATURE_MALFORMED");
  }
  const expected = createHmac("sha256", secret).update(`${timestamp}.`).update(rawBody).digest();
  if (!signatures.some((signature) => timingSafeEqual(signature, expected))) {
    throw rejected("No Stripe-Signature v1 matches the payload", "WEBHOOK_SIGNATURE_MISMATCH");
  }
  const tolerance = options.toleranceSeconds ?? defaultToleranceSeconds;
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (tolerance > 0 && Math.abs(now - timestamp) > tolerance) {
    throw rejected(`Stripe-Signature timestamp is ${now - timestamp}s away from now`, "WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE");
  }
  return timestamp;
}

interface StripeEventEnvelope {
  id: string;
  type: string;
  data: { object: Record<string, unknown> };
}

function isEventEnvelope(value: unknown): value is StripeEventEnvelope {
  return hasFieldTypes(value, { id: "string", type: "string", data: "object" }) && hasFieldTypes(value.data, { object: "object" });
}

function idOf(value: string | { id: string } | null | undefined): string | undefined {
  return typeof value === "string" ? value : value?.id;
}

// Parses a verified event body into what the core tracks.
export function parseStripeEvent(rawBody: Buffer): PaymentWebhookEvent {
  let event: unknown;
  try {
    event = JSON.parse(rawBody.toString("utf8"));
  } catch {
    throw rejected("Stripe webhook body is not JSON", "WEBHOOK_MALFORMED");
  }
  if (!isEventEnvelope(event)) throw rejected("Stripe webhook body is not an event", "WEBHOOK_MALFORMED");
  const object = event.data.object;
  switch (event.type) {
    case "payment_intent.succeeded":
    case "payment_intent.amount_capturable_updated":
    case "payment_intent.payment_failed":
    case "payment_intent.canceled":
    case "payment_intent.requires_action":
    case "payment_intent.processing": {
      const intent = object as unknown as Stripe.PaymentIntent;
      const result = paymentResult(intent);
      const attemptId = intent.metadata?.[attemptIdKey];
      return {
        providerEventId: event.id,
        providerPaymentId: intent.id,
        ...(attemptId && { attemptId }),
        kind: "payment",
        status: result.status,
        ...(result.amountCaptured !== undefined && { amountCaptured: result.amountCaptured }),
        ...(result.failure && { failure: result.failure }),
      };
    }
    case "refund.created":
    case "refund.updated":
    case "refund.failed":
    case "charge.refund.updated": {
      const refund = object as unknown as Stripe.Refund;
      const result = refundResult(refund);
      const paymentId = idOf(refund.payment_intent);
      return {
        providerEventId: event.id,
        ...(paymentId && { providerPaymentId: paymentId }),
        providerRefundId: refund.id,
        kind: "refund",
        status: result.status,
        ...(result.failure && { failure: result.failure }),
      };
    }
    // Names the charge, not the refund; the refund.* events carry the refund itself.
    case "charge.refunded": {
      const charge = object as unknown as Stripe.Charge;
      const paymentId = idOf(charge.payment_intent);
      const attemptId = charge.metadata?.[attemptIdKey];
      return {
        providerEventId: event.id,
        ...(paymentId && { providerPaymentId: paymentId }),
        ...(attemptId && { attemptId }),
        kind: "refund",
        status: "succeeded",
      };
    }
    default:
      return { providerEventId: event.id, kind: "ignored" };
  }
}
