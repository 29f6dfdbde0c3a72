import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { ConnectorError, type ConnectorContext, type PaymentWebhookEvent, type WebhookInput } from "../connector";
import { isCaptureRemainder, noteKeys, notesOf, paymentResult, refundResult, type RazorpayPayment, type RazorpayRefund } from "./mapping";

// X-Razorpay-Signature is the hex HMAC-SHA256 of the raw body with the
// webhook secret. The scheme has no timestamp, and X-Razorpay-Event-Id is not
// signed: replays are caught by an event id made of what the body says.
export function verifyRazorpaySignature(rawBody: Buffer | string, signature: string, secret: string): boolean {
  if (!/^[0-9a-f]{64}$/i.test(signature)) return false;
  const expected = createHmac("sha256", secret).update(rawBody).digest();
  return timingSafeEqual(expected, Buffer.from(signature, "hex"));
}

interface RazorpayEvent {
  event: string;
  created_at?: number;
  payload: {
    payment?: { entity: RazorpayPayment };
    refund?: { entity: RazorpayRefund };
    order?: { entity: { receipt?: string | null } };
  };
}

function rejected(message: string): ConnectorError {
  return new ConnectorError("invalid_signature", "razorpay", message, { reason: "WEBHOOK_REJECTED" });
}

// The event's identity from its signed body: its name, when it was created,
// and the subject entity with its status; a body without them is known by
// its digest. A body replayed under another X-Razorpay-Event-Id is the same
// event.
function signedEventId(event: Partial<RazorpayEvent> | null, rawBody: Buffer): string {
  const subject = event?.payload?.refund?.entity ?? event?.payload?.payment?.entity;
  if (typeof event?.event === "string" && typeof event.created_at === "number" && subject?.id) {
    return `${event.event}:${subject.id}:${subject.status}:${event.created_at}`;
  }
  return `sha256:${createHash("sha256").update(rawBody).digest("hex")}`;
}

export function parseRazorpayWebhook(ctx: ConnectorContext, input: WebhookInput): PaymentWebhookEvent {
  const secret = ctx.credentials.webhook_secret;
  if (!secret) throw rejected("the Razorpay account has no webhook_secret");
  const signature = input.headers["x-razorpay-signature"];
  if (!signature) throw rejected("missing X-Razorpay-Signature");
  if (!verifyRazorpaySignature(input.rawBody, signature, secret)) throw rejected("X-Razorpay-Signature does not match");

  let event: Partial<RazorpayEvent> | null;
  try {
    event = JSON.parse(input.rawBody.toString("utf8")) as Partial<RazorpayEvent> | null;
  } catch {
    throw rejected("webhook body is not JSON");
  }
  const providerEventId = signedEventId(event, input.rawBody);
  const payment = event?.payload?.payment?.entity;
  const refund = event?.payload?.refund?.entity;
  const ignored: PaymentWebhookEvent = { providerEventId, kind: "ignored" };
  if (!event || !payment) return ignored;
  const attemptId = notesOf(payment)[noteKeys.attemptId] ?? event.payload?.order?.entity.receipt ?? undefined;

  switch (event.event) {
    case "payment.authorized":
    case "payment.captured":
    case "payment.failed":
    case "order.paid": {
      const result = paymentResult(payment);
      return {
        providerEventId,
        kind: "payment",
        providerPaymentId: payment.id,
        attemptId,
        status: result.status,
        amountCaptured: result.amountCaptured,
        failure: result.failure,
      };
    }
    case "refund.processed":
    case "refund.failed":
      // The refund of an authorization's uncaptured part belongs to the capture.
      if (!refund || isCaptureRemainder(refund)) return ignored;
      return {
        providerEventId,
        kind: "refund",
        providerPaymentId: payment.id,
        providerRefundId: refund.id,
        attemptId,
        status: refundResult(refund).status,
      };
    default:
      return ignored;
  }
}
