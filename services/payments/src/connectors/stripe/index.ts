import { webhookSecret } from "@onerouter/routing";
import type Stripe from "stripe";
import { ConnectorError, type ConnectorContext, type PaymentConnector, type PaymentResult } from "../connector";
import { toStripeAmount } from "./amounts";
import { callStripe } from "./client";
import {
  attemptIdKey,
  declinedResult,
  expectStripeObject,
  paymentIdKey,
  paymentResult,
  refundIdKey,
  refundResult,
} from "./mapping";
import { parseStripeEvent, verifyStripeSignature } from "./webhook";

export { verifyStripeSignature } from "./webhook";

const stripeRefundReasons = new Set(["duplicate", "fraudulent", "requested_by_customer"]);

// Runs a call that answers with a PaymentIntent; a card decline is a result.
function paymentCall(
  ctx: ConnectorContext,
  call: (stripe: Stripe) => Promise<Stripe.PaymentIntent>,
): Promise<PaymentResult> {
  return callStripe(ctx, async (stripe) => {
    try {
      return paymentResult(await call(stripe));
    } catch (err) {
      if (err instanceof stripe.errors.StripeCardError) return declinedResult(err);
      throw err;
    }
  });
}

// Stripe's search language quotes values with '; a backslash escapes.
function searchValue(value: string): string {
  return `'${value.replace(/[\\']/g, "\\$&")}'`;
}

export const stripeConnector: PaymentConnector = {
  name: "stripe",
  credentialKeys: ["secret_key", "webhook_secret"],
  // Stripe presents 135+ currencies; which ones depends on the account.
  currencies: [],
  // Stripe refuses more than 50 keys (two are OneRouter's: attempt and
  // payment id), keys over 40 characters or with brackets, values over 500.
  metadataLimits: { maxKeys: 48, maxKeyLength: 40, maxValueLength: 500, forbiddenKeyCharacters: "[]", beyond: "refused" },
  // PaymentIntent search can lag behind writes by up to a minute.
  syncSettleMs: 60_000,
  needsPaymentMethodToken: true,

  async createPayment(ctx, input) {
    if (!input.paymentMethodToken) {
      throw new ConnectorError("invalid_request", "stripe", "Stripe needs a payment method token (pm_...)", {
        reason: "PAYMENT_METHOD_REQUIRED",
      });
    }
    // The customer is not sent: Stripe customers are Stripe objects (cus_...),
    // and receipt_email would make Stripe email receipts of its own.
    const params: Stripe.PaymentIntentCreateParams = {
      amount: toStripeAmount(input.amount, input.currency),
      currency: input.currency.toLowerCase(),
      confirm: true,
      payment_method: input.paymentMethodToken,
      capture_method: input.captureMethod,
      metadata: { ...input.metadata, [attemptIdKey]: input.attemptId, [paymentIdKey]: input.paymentId },
      ...(input.description && { description: input.description }),
      ...(input.returnUrl && { return_url: input.returnUrl }),
    };
    return paymentCall(ctx, (stripe) => stripe.paymentIntents.create(params, { idempotencyKey: input.attemptId }));
  },

  async capturePayment(ctx, input) {
    // Zero captures everything capturable.
    const params: Stripe.PaymentIntentCaptureParams =
      input.amount > 0n ? { amount_to_capture: toStripeAmount(input.amount, input.currency) } : {};
    return paymentCall(ctx, (stripe) =>
      stripe.paymentIntents.capture(input.providerPaymentId, params, { idempotencyKey: input.idempotencyKey }),
    );
  },

  async cancelPayment(ctx, input) {
    return paymentCall(ctx, (stripe) =>
      stripe.paymentIntents.cancel(input.providerPaymentId, {}, { idempotencyKey: input.idempotencyKey }),
    );
  },

  async refundPayment(ctx, input) {
    // Stripe's reason is an enum; any other reason travels in metadata.
    const stripeReason = input.reason && stripeRefundReasons.has(input.reason) ? input.reason : undefined;
    const params: Stripe.RefundCreateParams = {
      payment_intent: input.providerPaymentId,
      // Zero refunds everything not refunded yet.
      ...(input.amount > 0n && { amount: toStripeAmount(input.amount, input.currency) }),
      metadata: {
        [refundIdKey]: input.refundId,
        ...(input.reason && !stripeReason && { onerouter_refund_reason: input.reason }),
      },
      ...(stripeReason && { reason: stripeReason as Stripe.RefundCreateParams.Reason }),
    };
    return callStripe(ctx, async (stripe) =>
      refundResult(await stripe.refunds.create(params, { idempotencyKey: input.idempotencyKey })),
    );
  },

  async syncPayment(ctx, input) {
    const { providerPaymentId } = input;
    if (providerPaymentId) {
      return callStripe(ctx, async (stripe) => {
        try {
          return paymentResult(await stripe.paymentIntents.retrieve(providerPaymentId));
        } catch (err) {
          if (err instanceof stripe.errors.StripeInvalidRequestError && err.code === "resource_missing") return null;
          throw err;
        }
      });
    }
    // After a timeout only our attempt id is known; it is in the metadata.
    return callStripe(ctx, async (stripe) => {
      const found = await stripe.paymentIntents.search({
        query: `metadata[${searchValue(attemptIdKey)}]:${searchValue(input.attemptId)}`,
        limit: 1,
      });
      expectStripeObject(found, "search_result");
      const intent = found.data[0];
      return intent ? paymentResult(intent) : null;
    });
  },

  async testCredentials(ctx) {
    await callStripe(ctx, async (stripe) => expectStripeObject(await stripe.balance.retrieve(), "balance"));
  },

  async parseWebhook(ctx, input) {
    const secret = webhookSecret(ctx, "stripe", "Stripe", "webhook_secret");
    verifyStripeSignature(input.rawBody, input.headers["stripe-signature"], secret);
    return parseStripeEvent(input.rawBody);
  },
};
