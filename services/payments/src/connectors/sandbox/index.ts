import { copyWith } from "@onerouter/core";
import { inboundWebhookPath, type AccountSettings } from "@onerouter/routing";
import { builtInSandboxSettings, type BuiltInSandbox } from "@onerouter/sandbox";
import { ConnectorError, type PaymentConnector } from "../connector";
import { callSandbox, provider } from "./client";
import { paymentResult, refundStatus, type SandboxPayment, type SandboxRefund } from "./mapping";
import { parseSandboxWebhook } from "./webhook";

export { newSandboxApiKey } from "@onerouter/sandbox";

// The built-in sandbox provider: OneRouter's own simulated payment service,
// so a test environment works with no provider account and can simulate
// outages per account. See README.md for the settings and test tokens.

// Sandbox accounts without a base_url use the built-in sandbox, which then
// sends their webhooks to this server unless they name an allowed webhook_url.
export function builtInSandboxAccounts(sandbox: BuiltInSandbox | undefined): AccountSettings {
  return (stored, accountId, outbound) =>
    builtInSandboxSettings(sandbox, outbound.usableSettings(stored), accountId && inboundWebhookPath(provider, accountId));
}

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
        metadata: copyWith(input.metadata, { onerouter_payment_id: input.paymentId }),
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
    return parseSandboxWebhook(ctx.credentials.api_key ?? "", input);
  },
};
