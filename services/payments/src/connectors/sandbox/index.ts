import { callSandbox as callSandboxApi, sandboxProviders, sandboxWebhookRejected, verifySandboxSignature, type SandboxCall } from "@onerouter/sandbox";
import {
  ConnectorError,
  type ConnectorContext,
  type PaymentConnector,
  type PaymentResult,
  type ProviderPaymentStatus,
  type RefundResult,
} from "../connector";

export { newSandboxApiKey } from "@onerouter/sandbox";

// The built-in sandbox provider: OneRouter's own simulated payment service,
// so a test environment works with no provider account and can simulate
// outages per account. See README.md for the settings and test tokens.

// The sandbox's wire shapes (amounts are minor-unit decimal strings).
interface SandboxPayment {
  id: string;
  attempt_id: string | null;
  status: string;
  amount_capturable: string;
  amount_captured: string;
  failure: { code: string; decline_code: string; message: string } | null;
  next_action: { type: "redirect"; redirect_url: string } | null;
}

interface SandboxRefund {
  id: string;
  payment: string;
  status: string;
}

interface SandboxEvent {
  id: string;
  type: string;
  data: { object: unknown };
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

// The sandbox client and webhook checks core shares with the messaging sandbox, speaking as this connector.
const provider = sandboxProviders.payments;
const callSandbox = <T>(ctx: ConnectorContext, call: SandboxCall) => callSandboxApi<T>(provider, ctx, call);
const rejected = (message: string) => sandboxWebhookRejected(provider, message);

export const sandboxConnector: PaymentConnector = {
  name: provider,
  credentialKeys: ["api_key"],
  currencies: [],

  async createPayment(ctx, input) {
    const payment = await callSandbox<SandboxPayment>(ctx, {
      method: "POST",
      path: "/v1/payments",
      idempotencyKey: input.attemptId,
      body: {
        attempt_id: input.attemptId,
        amount: input.amount.toString(),
        currency: input.currency,
        capture_method: input.captureMethod,
        payment_method: input.paymentMethodToken,
        description: input.description,
        customer: input.customer,
        metadata: { ...input.metadata, onerouter_payment_id: input.paymentId },
        return_url: input.returnUrl,
        webhook_url: ctx.settings.webhook_url,
      },
    });
    return paymentResult(payment);
  },

  async capturePayment(ctx, input) {
    const payment = await callSandbox<SandboxPayment>(ctx, {
      method: "POST",
      path: `/v1/payments/${encodeURIComponent(input.providerPaymentId)}/capture`,
      idempotencyKey: input.idempotencyKey,
      body: { amount: input.amount.toString(), currency: input.currency },
    });
    return paymentResult(payment);
  },

  async cancelPayment(ctx, input) {
    const payment = await callSandbox<SandboxPayment>(ctx, {
      method: "POST",
      path: `/v1/payments/${encodeURIComponent(input.providerPaymentId)}/cancel`,
      idempotencyKey: input.idempotencyKey,
      body: {},
    });
    return paymentResult(payment);
  },

  async refundPayment(ctx, input) {
    const refund = await callSandbox<SandboxRefund>(ctx, {
      method: "POST",
      path: "/v1/refunds",
      idempotencyKey: input.idempotencyKey,
      body: {
        payment: input.providerPaymentId,
        amount: input.amount.toString(),
        currency: input.currency,
        reason: input.reason,
      },
    });
    return { status: refundStatus(refund.status), providerRefundId: refund.id };
  },

  async syncPayment(ctx, input) {
    if (input.providerPaymentId) {
      try {
        const payment = await callSandbox<SandboxPayment>(ctx, {
          method: "GET",
          path: `/v1/payments/${encodeURIComponent(input.providerPaymentId)}`,
        });
        return paymentResult(payment);
      } catch (err) {
        if (err instanceof ConnectorError && err.details.httpStatus === 404) return null;
        throw err;
      }
    }
    // The attempt id went along as the payment's attempt_id, so a create whose
    // answer was lost is found by it.
    const list = await callSandbox<{ data: SandboxPayment[] }>(ctx, {
      method: "GET",
      path: `/v1/payments?attempt_id=${encodeURIComponent(input.attemptId)}`,
    });
    const payment = list.data[0];
    return payment ? paymentResult(payment) : null;
  },

  async testCredentials(ctx) {
    await callSandbox(ctx, { method: "GET", path: "/v1/account" });
  },

  async parseWebhook(ctx, input) {
    verifySandboxSignature(provider, ctx.credentials.api_key ?? "", input);
    let event: SandboxEvent;
    try {
      event = JSON.parse(input.rawBody.toString("utf8")) as SandboxEvent;
    } catch {
      throw rejected("the webhook body is not JSON");
    }
    if (typeof event?.id !== "string" || typeof event.type !== "string" || typeof event.data?.object !== "object") {
      throw rejected("the webhook body is not a sandbox event");
    }
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
  },
};

function paymentResult(payment: SandboxPayment): PaymentResult {
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

function refundStatus(status: string): RefundResult["status"] {
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
