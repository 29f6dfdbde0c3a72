import { timingSafeEqual } from "node:crypto";
import type { EmulatorReply, EmulatorRequest, ProviderEmulator } from "@onerouter/sandbox";
import { RazorpayAccount } from "./account";
import { formatSubunits } from "./currencies";
import { errorReply, invalidInput, type RazorpayPayment } from "./entities";
import { createOrder, fetchOrder, listOrders, orderPayments } from "./orders";
import { capturePayment, completeAuthentication, createPaymentJson, editPayment, fetchPayment } from "./payments";
import { fetchRefund, paymentRefunds, refundPayment } from "./refunds";
import { isObject, type Handler } from "./request";
import type { RazorpayWebhookEvent, SignedRazorpayWebhook } from "./webhooks";

export { razorpayTestTokens } from "./payments";
export {
  buildRazorpayWebhook,
  razorpayWebhookSignature,
  type RazorpayWebhookEvent,
  type SignedRazorpayWebhook,
} from "./webhooks";
export { subunitExponent } from "./currencies";
export type { RazorpayOrder, RazorpayPayment, RazorpayRefund } from "./entities";

// An in-memory Razorpay: Orders (including the S2S single integration that
// creates an order with its payment in one call), S2S JSON payments, capture,
// refunds, payment notes updates, signed webhooks. It speaks Razorpay's wire
// format: JSON bodies, basic auth with key_id:key_secret, Razorpay's entity
// and error shapes.

export interface RazorpayEmulatorOptions {
  keyId: string;
  keySecret: string;
  webhookSecret: string;
  // Each event is posted here as it happens, as to a webhook configured on the Dashboard.
  webhookUrl?: string;
  accountId?: string;
}

export interface RazorpayEmulator extends ProviderEmulator {
  payment(paymentId: string): RazorpayPayment | undefined;
  // Payments that took money (authorized, captured or refunded) on the order with this receipt.
  chargeCount(receipt: string): number;
  // The payment amount as Razorpay reads it, in major units, e.g. "100.50".
  providerAmount(paymentId: string): string;
  // The event for the payment (and refund) in its current state, signed as Razorpay signs it.
  signedWebhook(event: RazorpayWebhookEvent, ids: { paymentId: string; refundId?: string }): SignedRazorpayWebhook;
}

const routes: Array<{ method: string; path: RegExp; handler: Handler; customerFacing?: boolean }> = [
  { method: "POST", path: /^\/v1\/orders$/, handler: createOrder },
  { method: "GET", path: /^\/v1\/orders$/, handler: listOrders },
  { method: "GET", path: /^\/v1\/orders\/([^/]+)$/, handler: fetchOrder },
  { method: "GET", path: /^\/v1\/orders\/([^/]+)\/payments$/, handler: orderPayments },
  { method: "POST", path: /^\/v1\/payments\/create\/json$/, handler: createPaymentJson },
  { method: "GET", path: /^\/v1\/payments\/([^/]+)$/, handler: fetchPayment },
  { method: "PATCH", path: /^\/v1\/payments\/([^/]+)$/, handler: editPayment },
  { method: "GET", path: /^\/v1\/payments\/([^/]+)\/authenticate$/, handler: completeAuthentication, customerFacing: true },
  { method: "POST", path: /^\/v1\/payments\/([^/]+)\/capture$/, handler: capturePayment },
  { method: "POST", path: /^\/v1\/payments\/([^/]+)\/refund$/, handler: refundPayment },
  { method: "GET", path: /^\/v1\/payments\/([^/]+)\/refunds$/, handler: paymentRefunds },
  { method: "GET", path: /^\/v1\/payments\/([^/]+)\/refunds\/([^/]+)$/, handler: fetchRefund },
  { method: "GET", path: /^\/v1\/refunds\/([^/]+)$/, handler: fetchRefund },
];

export function razorpayEmulator(options: RazorpayEmulatorOptions): RazorpayEmulator {
  const account = new RazorpayAccount({
    accountId: options.accountId ?? "acc_OneRouterTest01",
    keySecret: options.keySecret,
    webhookSecret: options.webhookSecret,
    webhookUrl: options.webhookUrl,
  });

  function authenticate(header: string | undefined): EmulatorReply | undefined {
    if (!header?.startsWith("Basic ")) {
      return errorReply(401, { description: "Please provide your api key for authentication purposes." });
    }
    const decoded = Buffer.from(header.slice("Basic ".length), "base64").toString("utf8");
    const separator = decoded.indexOf(":");
    const keyId = separator < 0 ? decoded : decoded.slice(0, separator);
    const keySecret = separator < 0 ? "" : decoded.slice(separator + 1);
    if (keyId !== options.keyId || !safeEqual(keySecret, options.keySecret)) {
      return errorReply(401, { description: "The api key/secret provided is invalid" });
    }
    return undefined;
  }

  function handle(req: EmulatorRequest): EmulatorReply {
    for (const route of routes) {
      const match = route.path.exec(req.path);
      if (!match || route.method !== req.method) continue;
      if (!route.customerFacing) {
        const denied = authenticate(req.headers.authorization);
        if (denied) return denied;
      }
      let body: unknown = {};
      if (req.rawBody.length > 0) {
        try {
          body = JSON.parse(req.rawBody.toString("utf8"));
        } catch {
          return invalidInput("The request body is not valid JSON", null);
        }
      }
      if (!isObject(body)) return invalidInput("The request body must be a JSON object", null);
      return route.handler(account, match.slice(1), body, req);
    }
    return errorReply(400, { description: "The requested URL was not found on the server." });
  }

  return {
    name: "razorpay",
    handle,
    serverError: () =>
      errorReply(500, {
        code: "SERVER_ERROR",
        description: "The server encountered an error. The incident has been reported to admins.",
      }),
    rateLimited: () => errorReply(429, { description: "Too many requests" }),
    payment: (paymentId) => account.payments.get(paymentId),
    chargeCount(receipt) {
      const orderId = account.orderIdsByReceipt.get(receipt);
      return [...account.payments.values()].filter(
        (p) => p.order_id === orderId && (p.status === "authorized" || p.status === "captured" || p.status === "refunded"),
      ).length;
    },
    providerAmount(paymentId) {
      const payment = account.requirePayment(paymentId);
      return formatSubunits(payment.amount, payment.currency);
    },
    signedWebhook(event, ids) {
      const payment = account.requirePayment(ids.paymentId);
      const refund = ids.refundId === undefined ? undefined : account.refunds.get(ids.refundId);
      const order = event === "order.paid" ? account.orders.get(payment.order_id) : undefined;
      return account.signedWebhook(event, { payment, order, refund });
    },
  };
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
