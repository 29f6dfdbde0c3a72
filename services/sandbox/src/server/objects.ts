// The sandbox's payment objects and their wire shapes. Amounts are ISO 4217
// minor units, sent as decimal strings so they never lose precision.

export type PaymentStatus = "succeeded" | "requires_capture" | "requires_action" | "declined" | "canceled";

export interface Payment {
  id: string;
  attemptId?: string;
  amount: bigint;
  currency: string;
  captureMethod: "automatic" | "manual";
  status: PaymentStatus;
  amountCapturable: bigint;
  amountCaptured: bigint;
  amountRefunded: bigint;
  paymentMethod: string;
  failure?: { declineCode: string; message: string };
  // Where the customer completes the action while the payment requires it.
  actionUrl?: string;
  returnUrl?: string;
  webhookUrl?: string;
  description?: string;
  metadata: Record<string, string>;
  customer: Record<string, string>;
  created: number;
}

export interface Refund {
  id: string;
  paymentId: string;
  amount: bigint;
  currency: string;
  reason?: string;
  created: number;
}

export function paymentJson(p: Payment) {
  return {
    id: p.id,
    object: "payment",
    attempt_id: p.attemptId ?? null,
    amount: p.amount.toString(),
    currency: p.currency,
    capture_method: p.captureMethod,
    status: p.status,
    amount_capturable: p.amountCapturable.toString(),
    amount_captured: p.amountCaptured.toString(),
    amount_refunded: p.amountRefunded.toString(),
    payment_method: p.paymentMethod,
    failure: p.failure
      ? { code: "card_declined", decline_code: p.failure.declineCode, message: p.failure.message }
      : null,
    next_action: p.status === "requires_action" && p.actionUrl ? { type: "redirect", redirect_url: p.actionUrl } : null,
    return_url: p.returnUrl ?? null,
    description: p.description ?? null,
    metadata: p.metadata,
    customer: p.customer,
    created: p.created,
  };
}

export function refundJson(r: Refund) {
  return {
    id: r.id,
    object: "refund",
    payment: r.paymentId,
    amount: r.amount.toString(),
    currency: r.currency,
    status: "succeeded",
    reason: r.reason ?? null,
    created: r.created,
  };
}
