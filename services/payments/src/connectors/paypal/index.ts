import {
  ConnectorError,
  type CancelPaymentInput,
  type CapturePaymentInput,
  type ConnectorContext,
  type CreatePaymentInput,
  type PaymentConnector,
  type PaymentResult,
  type RefundPaymentInput,
  type RefundResult,
} from "../connector";
import { fromPaypalMoney, paypalCurrencies, toPaypalMoney } from "./amounts";
import { paypalCall, requestAccessToken } from "./client";
import { paymentResultFromCapture, paymentResultFromOrder, paypalRefund, refundStatus } from "./mapping";
import { getOrder, syncPaypalPayment } from "./sync";
import { parsePaypalWebhook } from "./webhook";
import type {
  PaypalAuthorization,
  PaypalCapture,
  PaypalCaptureAuthorizationRequest,
  PaypalCreateOrderRequest,
  PaypalOrder,
  PaypalRefund,
  PaypalRefundRequest,
} from "./wire";

// PayPal through REST Orders v2 and Payments v2. One PayPal order is one
// OneRouter attempt: the order id is the providerPaymentId, and the
// authorizations, captures and refunds under it are reached through it.

function invalid(message: string): ConnectorError {
  return new ConnectorError("invalid_request", "paypal", message, { reason: "INVALID_STATE" });
}

async function createPayment(ctx: ConnectorContext, input: CreatePaymentInput): Promise<PaymentResult> {
  const order: PaypalCreateOrderRequest = {
    intent: input.captureMethod === "automatic" ? "CAPTURE" : "AUTHORIZE",
    purchase_units: [
      {
        // Not invoice_id: PayPal refuses an invoice id it has seen before,
        // which would block the next attempt of the same payment.
        reference_id: input.paymentId,
        // PayPal has no free-form metadata; custom_id carries the attempt id
        // and reappears on captures, authorizations and search records.
        custom_id: input.attemptId,
        description: input.description?.slice(0, 127),
        amount: toPaypalMoney(input.amount, input.currency),
      },
    ],
  };
  if (input.paymentMethodToken) {
    // A vaulted payment method (v3 payment token) completes the order in
    // this one call. Orders v2 takes it as the source's vault_id; its
    // `token` source accepts only billing agreements.
    order.payment_source = { card: { vault_id: input.paymentMethodToken } };
  } else if (input.returnUrl) {
    order.payment_source = {
      paypal: {
        email_address: input.customer?.email,
        experience_context: { return_url: input.returnUrl, cancel_url: input.returnUrl },
      },
    };
  }
  const created = await paypalCall<PaypalOrder>(ctx, {
    method: "POST",
    path: "/v2/checkout/orders",
    body: order,
    requestId: input.attemptId,
  });
  return paymentResultFromOrder(created);
}

async function captureAuthorization(
  ctx: ConnectorContext,
  orderId: string,
  authorization: PaypalAuthorization,
  input: CapturePaymentInput,
  requestId: string,
): Promise<PaymentResult> {
  // final_capture releases whatever a partial capture leaves authorized.
  const body: PaypalCaptureAuthorizationRequest = {
    amount: toPaypalMoney(input.amount, input.currency),
    final_capture: true,
  };
  const capture = await paypalCall<PaypalCapture>(ctx, {
    method: "POST",
    path: `/v2/payments/authorizations/${encodeURIComponent(authorization.id)}/capture`,
    body,
    requestId,
  });
  return paymentResultFromCapture(orderId, capture);
}

async function capturePayment(ctx: ConnectorContext, input: CapturePaymentInput): Promise<PaymentResult> {
  const order = await getOrder(ctx, input.providerPaymentId);
  const unit = order.purchase_units[0];
  const orderPath = `/v2/checkout/orders/${encodeURIComponent(order.id)}`;
  // Whatever state the authorization is in, PayPal decides: a retry with
  // the same request id replays the earlier capture, anything else it refuses.
  const authorization = unit?.payments?.authorizations?.at(-1);
  if (authorization) return captureAuthorization(ctx, order.id, authorization, input, input.idempotencyKey);

  if (order.intent === "CAPTURE") {
    // A buyer-approved order is captured whole by capturing the order.
    if (!unit || fromPaypalMoney(unit.amount) !== input.amount || unit.amount.currency_code !== input.currency) {
      throw invalid("PayPal captures a buyer-approved order for its full amount only");
    }
    const captured = await paypalCall<PaypalOrder>(ctx, {
      method: "POST",
      path: `${orderPath}/capture`,
      body: {},
      requestId: input.idempotencyKey,
    });
    return paymentResultFromOrder(captured);
  }

  // A buyer-approved authorize-intent order: authorize it, then capture.
  const authorized = await paypalCall<PaypalOrder>(ctx, {
    method: "POST",
    path: `${orderPath}/authorize`,
    body: {},
    requestId: `${input.idempotencyKey}-authorize`,
  });
  const created = authorized.purchase_units[0]?.payments?.authorizations?.at(-1);
  if (!created || created.status !== "CREATED") return paymentResultFromOrder(authorized);
  return captureAuthorization(ctx, order.id, created, input, input.idempotencyKey);
}

async function cancelPayment(ctx: ConnectorContext, input: CancelPaymentInput): Promise<PaymentResult> {
  const order = await getOrder(ctx, input.providerPaymentId);
  const authorization = order.purchase_units[0]?.payments?.authorizations?.at(-1);
  if (authorization) {
    await paypalCall<PaypalAuthorization | undefined>(ctx, {
      method: "POST",
      path: `/v2/payments/authorizations/${encodeURIComponent(authorization.id)}/void`,
      requestId: input.idempotencyKey,
    });
    return { status: "canceled", providerPaymentId: order.id };
  }
  switch (order.status) {
    // Orders v2 has no cancel call: an order nobody captured or authorized
    // holds no money and expires on its own.
    case "CREATED":
    case "PAYER_ACTION_REQUIRED":
    case "APPROVED":
    case "SAVED":
    case "VOIDED":
      return { status: "canceled", providerPaymentId: order.id };
    case "COMPLETED":
      throw invalid(`PayPal order ${order.id} is already captured; refund it instead`);
  }
}

async function refundPayment(ctx: ConnectorContext, input: RefundPaymentInput): Promise<RefundResult> {
  const order = await getOrder(ctx, input.providerPaymentId);
  const capture = order.purchase_units[0]?.payments?.captures?.find(
    (c) => c.status === "COMPLETED" || c.status === "PARTIALLY_REFUNDED" || c.status === "REFUNDED",
  );
  if (!capture) throw invalid(`PayPal order ${order.id} has no capture to refund`);
  const body: PaypalRefundRequest = {
    amount: toPaypalMoney(input.amount, input.currency),
    custom_id: input.refundId,
  };
  const refund = paypalRefund(
    await paypalCall<PaypalRefund>(ctx, {
      method: "POST",
      path: `/v2/payments/captures/${encodeURIComponent(capture.id)}/refund`,
      body,
      requestId: input.idempotencyKey,
    }),
  );
  const status = refundStatus(refund.status);
  return {
    status,
    providerRefundId: refund.id,
    failure:
      status === "failed"
        ? { reason: "PROVIDER_REFUND_FAILED", message: `PayPal refund ${refund.id} is ${refund.status}`, providerCode: refund.status }
        : undefined,
  };
}

export const paypalConnector: PaymentConnector = {
  name: "paypal",
  credentialKeys: ["client_id", "client_secret", "webhook_id"],
  currencies: paypalCurrencies,
  // PayPal has no free-form metadata: none is sent, it stays on the OneRouter payment.
  metadataLimits: { maxKeys: 0, maxKeyLength: 0, maxValueLength: 0, forbiddenKeyCharacters: "", beyond: "cut" },
  // Transaction Search can take up to three hours to show a new transaction.
  syncSettleMs: 3 * 60 * 60_000,
  createPayment,
  capturePayment,
  cancelPayment,
  refundPayment,
  syncPayment: syncPaypalPayment,
  async testCredentials(ctx) {
    await requestAccessToken(ctx);
  },
  parseWebhook: parsePaypalWebhook,
};
