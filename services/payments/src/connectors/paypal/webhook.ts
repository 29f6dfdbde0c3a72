import { ConnectorError, type ConnectorContext, type PaymentWebhookEvent, type WebhookInput } from "../connector";
import { fromPaypalMoney } from "./amounts";
import { paypalCall } from "./client";
import { declineFailure, refundStatus } from "./mapping";
import type {
  PaypalAuthorization,
  PaypalCapture,
  PaypalOrder,
  PaypalRefund,
  PaypalVerifyWebhookSignatureResponse,
  PaypalWebhookEvent,
} from "./wire";

// How far a transmission time may be from now. PayPal signs each delivery
// attempt afresh, so an old time means a replayed request.
const transmissionToleranceMs = 5 * 60_000;

function rejected(message: string): ConnectorError {
  return new ConnectorError("invalid_signature", "paypal", message, { reason: "WEBHOOK_SIGNATURE_INVALID" });
}

function parseEvent(rawBody: Buffer): PaypalWebhookEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawBody.toString("utf8"));
  } catch {
    throw rejected("PayPal webhook body is not JSON");
  }
  const event = parsed as Partial<PaypalWebhookEvent> | null;
  if (typeof event?.id !== "string" || typeof event.event_type !== "string") {
    throw rejected("PayPal webhook body is not an event");
  }
  return event as PaypalWebhookEvent;
}

// PayPal's postback verification: PayPal checks the transmission signature
// (SHA256withRSA over transmission id, time, webhook id and the CRC32 of the
// body) against its certificate and answers SUCCESS or FAILURE.
async function verifyWithPaypal(ctx: ConnectorContext, input: WebhookInput): Promise<PaypalWebhookEvent> {
  const headers = input.headers;
  const transmissionId = headers["paypal-transmission-id"];
  const transmissionTime = headers["paypal-transmission-time"];
  const transmissionSig = headers["paypal-transmission-sig"];
  const certUrl = headers["paypal-cert-url"];
  const authAlgo = headers["paypal-auth-algo"];
  if (!transmissionId || !transmissionTime || !transmissionSig || !certUrl || !authAlgo) {
    throw rejected("PayPal transmission headers are missing");
  }
  const sentAt = Date.parse(transmissionTime);
  if (!Number.isFinite(sentAt) || Math.abs(Date.now() - sentAt) > transmissionToleranceMs) {
    throw rejected(`PayPal transmission time ${transmissionTime} is outside the tolerance`);
  }
  const webhookId = ctx.credentials.webhook_id;
  if (!webhookId) throw rejected("the PayPal account has no webhook_id to verify against");
  const event = parseEvent(input.rawBody);

  // The event goes back byte for byte as received: the CRC32 PayPal checks
  // is over the body it signed, and re-serializing could change it.
  const fields = JSON.stringify({
    auth_algo: authAlgo,
    cert_url: certUrl,
    transmission_id: transmissionId,
    transmission_sig: transmissionSig,
    transmission_time: transmissionTime,
    webhook_id: webhookId,
  });
  const body = Buffer.concat([Buffer.from(`${fields.slice(0, -1)},"webhook_event":`), input.rawBody, Buffer.from("}")]);
  let verification: PaypalVerifyWebhookSignatureResponse | undefined;
  try {
    verification = await paypalCall<PaypalVerifyWebhookSignatureResponse>(ctx, {
      method: "POST",
      path: "/v1/notifications/verify-webhook-signature",
      body,
    });
  } catch (err) {
    // PayPal refusing the verification request itself (bad cert URL, unknown
    // webhook id) rejects the webhook; outages stay retryable.
    if (err instanceof ConnectorError && err.kind === "invalid_request") throw rejected(err.message);
    throw err;
  }
  if (verification?.verification_status !== "SUCCESS") throw rejected("PayPal did not verify the webhook signature");
  return event;
}

// Refund resources link "up" to their capture; the capture names its order.
async function orderIdOfRefund(ctx: ConnectorContext, refund: PaypalRefund): Promise<string | undefined> {
  const up = refund.links?.find((l) => l.rel === "up")?.href;
  const captureId = up ? /\/v2\/payments\/captures\/([^/?]+)/.exec(up)?.[1] : undefined;
  if (!captureId) return undefined;
  const capture = await paypalCall<PaypalCapture>(ctx, { method: "GET", path: `/v2/payments/captures/${captureId}` });
  return capture.supplementary_data?.related_ids?.order_id;
}

async function eventFromPaypal(ctx: ConnectorContext, event: PaypalWebhookEvent): Promise<PaymentWebhookEvent> {
  const providerEventId = event.id;
  switch (event.event_type) {
    case "PAYMENT.CAPTURE.COMPLETED":
    case "PAYMENT.CAPTURE.DENIED": {
      const capture = event.resource as PaypalCapture;
      const common = {
        providerEventId,
        kind: "payment" as const,
        providerPaymentId: capture.supplementary_data?.related_ids?.order_id,
        attemptId: capture.custom_id,
      };
      return event.event_type === "PAYMENT.CAPTURE.COMPLETED"
        ? { ...common, status: "succeeded", amountCaptured: capture.amount ? fromPaypalMoney(capture.amount) : undefined }
        : { ...common, status: "declined", failure: declineFailure(capture.processor_response, "capture") };
    }
    case "PAYMENT.AUTHORIZATION.CREATED":
    case "PAYMENT.AUTHORIZATION.VOIDED": {
      const authorization = event.resource as PaypalAuthorization;
      return {
        providerEventId,
        kind: "payment",
        providerPaymentId: authorization.supplementary_data?.related_ids?.order_id,
        attemptId: authorization.custom_id,
        status: event.event_type === "PAYMENT.AUTHORIZATION.CREATED" ? "requires_capture" : "canceled",
      };
    }
    case "PAYMENT.CAPTURE.REFUNDED": {
      const refund = event.resource as PaypalRefund;
      return {
        providerEventId,
        kind: "refund",
        providerRefundId: refund.id,
        providerPaymentId: await orderIdOfRefund(ctx, refund),
        status: refundStatus(refund.status),
      };
    }
    case "CHECKOUT.ORDER.APPROVED": {
      const order = event.resource as PaypalOrder;
      return {
        providerEventId,
        kind: "payment",
        providerPaymentId: order.id,
        attemptId: order.purchase_units?.[0]?.custom_id,
        status: "requires_capture",
      };
    }
    default:
      return { providerEventId, kind: "ignored" };
  }
}

export async function parsePaypalWebhook(ctx: ConnectorContext, input: WebhookInput): Promise<PaymentWebhookEvent> {
  const event = await verifyWithPaypal(ctx, input);
  return eventFromPaypal(ctx, event);
}
