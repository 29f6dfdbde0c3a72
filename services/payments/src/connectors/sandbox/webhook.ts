import { verifiedSandboxEvent } from "@onerouter/sandbox";
import type { PaymentWebhookEvent, WebhookInput } from "../connector";
import { provider } from "./client";
import { paymentResult, refundStatus, type SandboxPayment, type SandboxRefund } from "./mapping";

// A signed sandbox delivery about a payment or a refund.
export function parseSandboxWebhook(apiKey: string, input: WebhookInput): PaymentWebhookEvent {
  const event = verifiedSandboxEvent(provider, apiKey, input, "webhook");
  if (event.type.startsWith("payment.")) {
    const payment = event.data.object as SandboxPayment;
    const result = paymentResult(payment);
    return {
      providerEventId: event.id,
      providerPaymentId: payment.id,
      attemptId: payment.attempt_id ?? undefined,
      kind: "payment",
      status: result.status,
      amountCaptured: result.amountCaptured,
      failure: result.failure,
    };
  }
  if (event.type.startsWith("refund.")) {
    const refund = event.data.object as SandboxRefund;
    return {
      providerEventId: event.id,
      providerRefundId: refund.id,
      providerPaymentId: refund.payment,
      kind: "refund",
      status: refundStatus(refund.status),
    };
  }
  return { providerEventId: event.id, kind: "ignored" };
}
