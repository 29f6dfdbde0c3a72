import { createHmac } from "node:crypto";
import { razorpayId, unixNow, wire, type RazorpayOrder, type RazorpayPayment, type RazorpayRefund } from "./entities";

export type RazorpayWebhookEvent =
  | "payment.authorized"
  | "payment.captured"
  | "payment.failed"
  | "order.paid"
  | "refund.created"
  | "refund.processed";

export interface SignedRazorpayWebhook {
  event: RazorpayWebhookEvent;
  body: string;
  // As Razorpay sends them: X-Razorpay-Signature and X-Razorpay-Event-Id, lower-cased.
  headers: Record<string, string>;
}

export interface WebhookEntities {
  payment: RazorpayPayment;
  order?: RazorpayOrder;
  refund?: RazorpayRefund;
}

// X-Razorpay-Signature: hex HMAC-SHA256 of the raw body with the webhook secret.
export function razorpayWebhookSignature(body: string, secret: string): string {
  return createHmac("sha256", secret).update(body).digest("hex");
}

export function buildRazorpayWebhook(
  event: RazorpayWebhookEvent,
  entities: WebhookEntities,
  options: { accountId: string; secret: string },
): SignedRazorpayWebhook {
  const payload: Record<string, { entity: unknown }> = {};
  // Razorpay lists the entities an event carries in `contains`, the subject first.
  const contains: string[] = [];
  if (entities.refund) {
    contains.push("refund");
    payload.refund = { entity: wire(entities.refund) };
  }
  contains.push("payment");
  payload.payment = { entity: wire(entities.payment) };
  if (entities.order) {
    contains.push("order");
    payload.order = { entity: wire(entities.order) };
  }
  const body = JSON.stringify({
    entity: "event",
    account_id: options.accountId,
    event,
    contains,
    payload,
    created_at: unixNow(),
  });
  return {
    event,
    body,
    headers: {
      "x-razorpay-signature": razorpayWebhookSignature(body, options.secret),
      "x-razorpay-event-id": razorpayId(""),
    },
  };
}
