import { ConnectorError, type PaymentResult, type ProviderPaymentStatus, type RefundResult } from "../connector";
import { provider } from "./client";

// The sandbox's wire shapes (amounts are minor-unit decimal strings).
export interface SandboxPayment {
  id: string;
  attempt_id: string | null;
  status: string;
  amount_capturable: string;
  amount_captured: string;
  failure: { code: string; decline_code: string; message: string } | null;
  next_action: { type: "redirect"; redirect_url: string } | null;
}

export interface SandboxRefund {
  id: string;
  payment: string;
  status: string;
}

// The sandbox names its statuses after OneRouter's.
const paymentStatuses: Record<string, ProviderPaymentStatus> = {
  succeeded: "succeeded",
  requires_capture: "requires_capture",
  requires_action: "requires_action",
  declined: "declined",
  canceled: "canceled",
};

const refundStatuses: Record<string, RefundResult["status"]> = {
  succeeded: "succeeded",
  pending: "pending",
  failed: "failed",
};

export function paymentResult(payment: SandboxPayment): PaymentResult {
  const status = paymentStatuses[payment.status];
  if (!status) throw unexpectedAnswer(`payment status ${payment.status}`);
  const result: PaymentResult = {
    status,
    providerPaymentId: payment.id,
    amountCapturable: BigInt(payment.amount_capturable),
    amountCaptured: BigInt(payment.amount_captured),
  };
  if (payment.next_action) result.redirectUrl = payment.next_action.redirect_url;
  if (payment.failure) {
    result.failure = {
      reason: "PROVIDER_DECLINED",
      message: payment.failure.message,
      // The sandbox's decline codes are already OneRouter's normalized ones.
      declineCode: payment.failure.decline_code,
      providerCode: payment.failure.decline_code,
    };
  }
  return result;
}

export function refundStatus(status: string): RefundResult["status"] {
  const mapped = refundStatuses[status];
  if (!mapped) throw unexpectedAnswer(`refund status ${status}`);
  return mapped;
}

// The sandbox answered, but with something this connector does not know; the
// call may have taken effect.
function unexpectedAnswer(what: string): ConnectorError {
  return new ConnectorError("ambiguous", provider, `the sandbox answered with an unknown ${what}`, {
    reason: "PROVIDER_INVALID_RESPONSE",
  });
}
