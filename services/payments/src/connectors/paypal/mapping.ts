import { ConnectorError, type PaymentResult, type ProviderFailure, type RefundResult } from "../connector";
import { fromPaypalMoney } from "./amounts";
import type { PaypalCapture, PaypalOrder, PaypalProcessorResponse, PaypalRefund, PaypalRefundStatus } from "./wire";

// A successful answer that is not the PayPal object asked for (a gateway's
// JSON with a 2xx, a status this code does not know) is not a result: the
// request may have reached PayPal, so it is ambiguous.
export function notPaypalsAnswer(what: string): ConnectorError {
  return new ConnectorError("ambiguous", "paypal", `PayPal's answer is not ${what}`, { reason: "PROVIDER_INVALID_RESPONSE" });
}

const orderStatuses = new Set(["CREATED", "SAVED", "APPROVED", "VOIDED", "COMPLETED", "PAYER_ACTION_REQUIRED"]);
const captureStatuses = new Set(["COMPLETED", "DECLINED", "PARTIALLY_REFUNDED", "PENDING", "REFUNDED", "FAILED"]);

function hasIdAndStatus(value: unknown, statuses: ReadonlySet<string>): boolean {
  const answer = typeof value === "object" && value !== null ? (value as { id?: unknown; status?: unknown }) : undefined;
  return typeof answer?.id === "string" && typeof answer.status === "string" && statuses.has(answer.status);
}

// PayPal processor response codes (processor_response.response_code) that
// decline a card payment, with OneRouter's normalized decline code.
const processorDeclines: Record<string, { declineCode: string; text: string }> = {
  "0500": { declineCode: "card_declined", text: "do not honor" },
  "0580": { declineCode: "card_declined", text: "unauthorized transaction" },
  "5100": { declineCode: "card_declined", text: "generic decline" },
  "5110": { declineCode: "incorrect_cvc", text: "CVV2 check failed" },
  "00N7": { declineCode: "incorrect_cvc", text: "CVV2 check failed" },
  "5120": { declineCode: "insufficient_funds", text: "insufficient funds" },
  "5180": { declineCode: "restricted_card", text: "invalid or restricted card" },
  "1330": { declineCode: "invalid_account", text: "invalid account" },
  "5400": { declineCode: "expired_card", text: "expired card" },
  "5650": { declineCode: "authentication_required", text: "strong customer authentication required" },
  "5700": { declineCode: "transaction_not_allowed", text: "transaction not permitted" },
  "9500": { declineCode: "fraudulent", text: "suspected fraud" },
};

export function declineFailure(
  processorResponse: PaypalProcessorResponse | undefined,
  declined: "capture" | "authorization",
): ProviderFailure {
  const code = processorResponse?.response_code;
  const known = code === undefined ? undefined : processorDeclines[code];
  return {
    reason: "PROVIDER_DECLINED",
    message: `PayPal declined the ${declined}${known ? `: ${known.text}` : ""}`,
    declineCode: known?.declineCode ?? "card_declined",
    providerCode: code ?? (declined === "capture" ? "DECLINED" : "DENIED"),
  };
}

const settledCaptureStatuses = new Set(["COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED"]);

export function paymentResultFromCapture(providerPaymentId: string, capture: PaypalCapture): PaymentResult {
  if (!hasIdAndStatus(capture, captureStatuses)) throw notPaypalsAnswer("a capture");
  if (settledCaptureStatuses.has(capture.status)) {
    return {
      status: "succeeded",
      providerPaymentId,
      amountCaptured: capture.amount ? fromPaypalMoney(capture.amount) : undefined,
    };
  }
  if (capture.status === "PENDING") return { status: "processing", providerPaymentId };
  return { status: "declined", providerPaymentId, failure: declineFailure(capture.processor_response, "capture") };
}

// OneRouter's view of a PayPal order. The order id is the providerPaymentId:
// captures and authorizations are parts of it.
export function paymentResultFromOrder(order: PaypalOrder): PaymentResult {
  if (!hasIdAndStatus(order, orderStatuses) || !Array.isArray(order.purchase_units)) throw notPaypalsAnswer("an order");
  const providerPaymentId = order.id;
  const unit = order.purchase_units[0];
  const orderAmount = unit ? fromPaypalMoney(unit.amount) : undefined;
  switch (order.status) {
    case "CREATED":
    case "PAYER_ACTION_REQUIRED": {
      const link = order.links?.find((l) => l.rel === "approve" || l.rel === "payer-action");
      return { status: "requires_action", providerPaymentId, redirectUrl: link?.href };
    }
    // The buyer approved (or the order was saved): funds move only when
    // the merchant captures, so OneRouter's capture call finishes it.
    case "APPROVED":
    case "SAVED":
      return { status: "requires_capture", providerPaymentId, amountCapturable: orderAmount };
    case "VOIDED":
      return { status: "canceled", providerPaymentId };
    case "COMPLETED":
      break;
  }

  const captures = unit?.payments?.captures ?? [];
  const settled = captures.filter((c) => settledCaptureStatuses.has(c.status));
  if (settled.length > 0) {
    const amountCaptured = settled.reduce((sum, c) => sum + (c.amount ? fromPaypalMoney(c.amount) : 0n), 0n);
    return { status: "succeeded", providerPaymentId, amountCaptured };
  }
  if (captures.some((c) => c.status === "PENDING")) return { status: "processing", providerPaymentId };
  const lastCapture = captures.at(-1);
  if (lastCapture) return paymentResultFromCapture(providerPaymentId, lastCapture);

  const authorization = unit?.payments?.authorizations?.at(-1);
  switch (authorization?.status) {
    case "CREATED":
      return {
        status: "requires_capture",
        providerPaymentId,
        amountCapturable: authorization.amount ? fromPaypalMoney(authorization.amount) : orderAmount,
      };
    case "DENIED":
      return {
        status: "declined",
        providerPaymentId,
        failure: declineFailure(authorization.processor_response, "authorization"),
      };
    case "VOIDED":
      return { status: "canceled", providerPaymentId };
    default:
      return { status: "processing", providerPaymentId };
  }
}

export function refundStatus(status: PaypalRefundStatus): RefundResult["status"] {
  switch (status) {
    case "COMPLETED":
      return "succeeded";
    case "PENDING":
      return "pending";
    case "CANCELLED":
    case "FAILED":
      return "failed";
    default:
      throw notPaypalsAnswer(`a refund in a known status (${String(status)})`);
  }
}

// A refund PayPal answered, checked for what is read from it.
export function paypalRefund(refund: PaypalRefund): PaypalRefund {
  if (typeof (refund as Partial<PaypalRefund> | null)?.id !== "string") throw notPaypalsAnswer("a refund");
  return refund;
}
