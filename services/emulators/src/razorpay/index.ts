import { createHmac, timingSafeEqual } from "node:crypto";
import { postWebhook, type EmulatorReply, type EmulatorRequest, type ProviderEmulator } from "@onerouter/sandbox";
import { amountProblem, formatSubunits, subunitExponent } from "./currencies";
import {
  collection,
  errorReply,
  invalidInput,
  razorpayId,
  readNotes,
  unixNow,
  unknownId,
  wire,
  type RazorpayOrder,
  type RazorpayPayment,
  type RazorpayRefund,
} from "./entities";
import { buildRazorpayWebhook, type RazorpayWebhookEvent, type SignedRazorpayWebhook, type WebhookEntities } from "./webhooks";

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

// The card token passed with a payment decides its outcome.
export const razorpayTestTokens = {
  success: "tok_success",
  // Waits for the customer at the `next` redirect URL (3-D Secure), then authorizes.
  threeDSecure: "tok_3ds",
  insufficientFunds: "tok_decline_insufficient_funds",
  cardDeclined: "tok_decline_card_declined",
  cardExpired: "tok_decline_card_expired",
  incorrectCvv: "tok_decline_incorrect_cvv",
} as const;

interface Decline {
  reason: string;
  source: string;
  description: string;
}

const declines: Record<string, Decline> = {
  [razorpayTestTokens.insufficientFunds]: {
    reason: "insufficient_funds",
    source: "customer",
    description: "Your payment could not be completed due to insufficient account balance. Try again with another account.",
  },
  [razorpayTestTokens.cardDeclined]: {
    reason: "card_declined",
    source: "issuer_bank",
    description: "Your payment has been declined by your bank. Try paying with another card or method.",
  },
  [razorpayTestTokens.cardExpired]: {
    reason: "card_expired",
    source: "customer",
    description: "The card used for the payment has expired. Try paying with another card.",
  },
  [razorpayTestTokens.incorrectCvv]: {
    reason: "incorrect_cvv",
    source: "customer",
    description: "Your payment could not be completed as the CVV entered is incorrect. Try again with the correct CVV.",
  },
};

type Body = Record<string, unknown>;
type Handler = (params: string[], body: Body, req: EmulatorRequest) => EmulatorReply;

function isObject(value: unknown): value is Body {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export function razorpayEmulator(options: RazorpayEmulatorOptions): RazorpayEmulator {
  const accountId = options.accountId ?? "acc_OneRouterTest01";
  const orders = new Map<string, RazorpayOrder>();
  const orderIdsByReceipt = new Map<string, string>();
  const captureModes = new Map<string, "automatic" | "manual">();
  const payments = new Map<string, RazorpayPayment>();
  const refunds = new Map<string, RazorpayRefund>();

  function emit(event: RazorpayWebhookEvent, entities: WebhookEntities) {
    if (!options.webhookUrl) return;
    const webhook = buildRazorpayWebhook(event, entities, { accountId, secret: options.webhookSecret });
    // Delivery is fire-and-forget: a failing receiver is the receiver's problem.
    void postWebhook(options.webhookUrl, webhook.body, webhook.headers).catch(() => undefined);
  }

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

  // The fields Razorpay hands back (and posts to the callback URL) once a payment is authorized.
  function paymentSucceeded(payment: RazorpayPayment) {
    const signature = createHmac("sha256", options.keySecret)
      .update(`${payment.order_id}|${payment.id}`)
      .digest("hex");
    return {
      status: 200,
      body: { razorpay_payment_id: payment.id, razorpay_order_id: payment.order_id, razorpay_signature: signature },
    };
  }

  function capture(payment: RazorpayPayment) {
    const order = orders.get(payment.order_id);
    payment.status = "captured";
    payment.captured = true;
    // Razorpay's fee includes 18% GST on its 2% commission.
    const commission = Math.round(payment.amount * 0.02);
    payment.tax = Math.round(commission * 0.18);
    payment.fee = commission + payment.tax;
    emit("payment.captured", { payment });
    if (order) {
      order.status = "paid";
      order.amount_paid = order.amount;
      order.amount_due = 0;
      emit("order.paid", { payment, order });
    }
  }

  function authorize(payment: RazorpayPayment) {
    payment.status = "authorized";
    payment.acquirer_data = { auth_code: String(Math.floor(100000 + Math.random() * 900000)) };
    emit("payment.authorized", { payment });
    if (captureModes.get(payment.order_id) === "automatic") capture(payment);
  }

  // A card payment on an order, as POST /v1/payments/create/json or the
  // `payment` of the single integration order call makes it.
  function attemptPayment(order: RazorpayOrder, details: Body, req: EmulatorRequest): EmulatorReply {
    const metadata = { order_id: order.id };
    if (order.status === "paid") return invalidInput("Order has already been paid", "order_id", metadata);
    if (details.method !== "card") return invalidInput("The selected method is invalid.", "method", metadata);
    if ((details.amount ?? order.amount_due) !== order.amount_due) {
      return invalidInput(
        "Your payment amount is different from your order amount. To pay successfully, please try using right amount.",
        "amount",
        metadata,
      );
    }
    if ((details.currency ?? order.currency) !== order.currency) {
      return invalidInput("Currency should be same as order currency", "currency", metadata);
    }
    const token = typeof details.token === "string" ? details.token : "";
    const decline = declines[token];
    if (!decline && token !== razorpayTestTokens.success && token !== razorpayTestTokens.threeDSecure) {
      return invalidInput("The selected token is invalid.", "token", metadata);
    }
    const notes = readNotes(details.notes);
    if (typeof notes === "string") return invalidInput(notes, "notes", metadata);

    const payment: RazorpayPayment = {
      id: razorpayId("pay"),
      entity: "payment",
      amount: order.amount_due,
      currency: order.currency,
      status: "created",
      order_id: order.id,
      invoice_id: null,
      international: order.currency !== "INR",
      method: "card",
      amount_refunded: 0,
      refund_status: null,
      captured: false,
      description: typeof details.description === "string" ? details.description : null,
      card_id: razorpayId("card"),
      bank: null,
      wallet: null,
      vpa: null,
      email: typeof details.email === "string" ? details.email : null,
      contact: typeof details.contact === "string" ? details.contact : null,
      notes,
      fee: null,
      tax: null,
      error_code: null,
      error_description: null,
      error_source: null,
      error_step: null,
      error_reason: null,
      acquirer_data: { auth_code: null },
      created_at: unixNow(),
    };
    payments.set(payment.id, payment);
    order.attempts += 1;
    order.status = "attempted";

    if (decline) {
      payment.status = "failed";
      payment.error_code = "BAD_REQUEST_ERROR";
      payment.error_description = decline.description;
      payment.error_source = decline.source;
      payment.error_step = "payment_authorization";
      payment.error_reason = decline.reason;
      emit("payment.failed", { payment });
      return errorReply(400, {
        description: decline.description,
        source: decline.source,
        step: "payment_authorization",
        reason: decline.reason,
        field: null,
        metadata: { payment_id: payment.id, order_id: order.id },
      });
    }
    if (token === razorpayTestTokens.threeDSecure) {
      const url = `http://${req.headers.host ?? "localhost"}/v1/payments/${payment.id}/authenticate`;
      return { status: 200, body: { razorpay_payment_id: payment.id, razorpay_order_id: order.id, next: [{ action: "redirect", url }] } };
    }
    authorize(payment);
    return paymentSucceeded(payment);
  }

  function orderInputError(description: string, field: string, reason = "input_validation_failed") {
    return errorReply(400, { description, field, source: "business", step: "order_create", reason });
  }

  const createOrder: Handler = (_params, body, req) => {
    const currency = typeof body.currency === "string" ? body.currency : "INR";
    if (subunitExponent(currency) === undefined) {
      return orderInputError("Currency is not supported", "currency", "invalid_currency");
    }
    const amountIssue = amountProblem(body.amount, currency);
    if (amountIssue) return orderInputError(amountIssue, "amount");
    const receipt = body.receipt === undefined || body.receipt === null ? null : String(body.receipt);
    if (receipt !== null && receipt.length > 40) {
      return orderInputError("The receipt may not be greater than 40 characters.", "receipt");
    }
    // Receipts are unique per account.
    if (receipt !== null && orderIdsByReceipt.has(receipt)) {
      return orderInputError("The receipt has already been taken.", "receipt");
    }
    const notes = readNotes(body.notes);
    if (typeof notes === "string") return orderInputError(notes, "notes");

    const amount = body.amount as number;
    const order: RazorpayOrder = {
      id: razorpayId("order"),
      entity: "order",
      amount,
      amount_paid: 0,
      amount_due: amount,
      currency,
      receipt,
      offer_id: null,
      status: "created",
      attempts: 0,
      notes,
      created_at: unixNow(),
    };
    orders.set(order.id, order);
    if (receipt !== null) orderIdsByReceipt.set(receipt, order.id);
    captureModes.set(order.id, captureModeOf(body));

    // The single integration API: an order created together with its payment.
    if (isObject(body.payment) && "method" in body.payment) return attemptPayment(order, body.payment, req);
    return { status: 200, body: wire(order) };
  };

  const listOrders: Handler = (_params, _body, req) => {
    const receipt = req.query.get("receipt");
    const count = Math.min(Number(req.query.get("count") ?? 10) || 10, 100);
    const skip = Number(req.query.get("skip") ?? 0) || 0;
    // Newest first, as Razorpay lists them.
    const matching = [...orders.values()].reverse().filter((o) => receipt === null || o.receipt === receipt);
    return { status: 200, body: collection(matching.slice(skip, skip + count)) };
  };

  const fetchOrder: Handler = ([orderId]) => {
    const order = orders.get(orderId ?? "");
    return order ? { status: 200, body: wire(order) } : unknownId();
  };

  const orderPayments: Handler = ([orderId]) => {
    if (!orders.has(orderId ?? "")) return unknownId();
    const items = [...payments.values()].filter((p) => p.order_id === orderId).reverse();
    return { status: 200, body: collection(items) };
  };

  const createPaymentJson: Handler = (_params, body, req) => {
    const order = orders.get(typeof body.order_id === "string" ? body.order_id : "");
    if (!order) return invalidInput("The id provided does not exist", "order_id");
    return attemptPayment(order, body, req);
  };

  const fetchPayment: Handler = ([paymentId]) => {
    const payment = payments.get(paymentId ?? "");
    return payment ? { status: 200, body: wire(payment) } : unknownId();
  };

  // Razorpay's Update Payment API changes only the notes, replacing them.
  const editPayment: Handler = ([paymentId], body) => {
    const payment = payments.get(paymentId ?? "");
    if (!payment) return unknownId();
    const notes = readNotes(body.notes);
    if (typeof notes === "string") return invalidInput(notes, "notes");
    payment.notes = notes;
    return { status: 200, body: wire(payment) };
  };

  // The customer's return from the 3-D Secure redirect.
  const completeAuthentication: Handler = ([paymentId]) => {
    const payment = payments.get(paymentId ?? "");
    if (!payment) return unknownId();
    if (payment.status !== "created") return invalidInput("Payment has already been processed", null);
    authorize(payment);
    return paymentSucceeded(payment);
  };

  const capturePayment: Handler = ([paymentId], body) => {
    const payment = payments.get(paymentId ?? "");
    if (!payment) return unknownId();
    if (typeof body.amount !== "number" || !Number.isSafeInteger(body.amount)) {
      return invalidInput("The amount must be an integer.", "amount");
    }
    if (payment.status === "captured" || payment.captured) {
      return invalidInput("This payment has already been captured", null);
    }
    if (payment.status !== "authorized") {
      return invalidInput("Only payments which have been authorized and not yet captured can be captured", null);
    }
    if (body.currency !== undefined && body.currency !== payment.currency) {
      return invalidInput("Currency should be same as payment currency", "currency");
    }
    // Razorpay captures exactly the authorized amount; there is no partial capture.
    if (body.amount !== payment.amount) {
      return invalidInput("Capture amount must be equal to the amount authorized", "amount");
    }
    capture(payment);
    return { status: 200, body: wire(payment) };
  };

  const refundPayment: Handler = ([paymentId], body) => {
    const payment = payments.get(paymentId ?? "");
    if (!payment) return unknownId();
    if (!payment.captured) return invalidInput("Only captured payments can be refunded", null);
    const refundable = payment.amount - payment.amount_refunded;
    const amount = body.amount ?? refundable;
    if (typeof amount !== "number" || !Number.isSafeInteger(amount) || amount < 1) {
      return invalidInput("The amount must be an integer.", "amount");
    }
    if (amount > refundable) {
      return invalidInput("The refund amount provided is greater than amount captured", "amount");
    }
    const receipt = body.receipt === undefined || body.receipt === null ? null : String(body.receipt);
    if (receipt !== null && receipt.length > 40) {
      return invalidInput("The receipt may not be greater than 40 characters.", "receipt");
    }
    const notes = readNotes(body.notes);
    if (typeof notes === "string") return invalidInput(notes, "notes");
    const refund: RazorpayRefund = {
      id: razorpayId("rfnd"),
      entity: "refund",
      amount,
      currency: payment.currency,
      payment_id: payment.id,
      notes,
      receipt,
      acquirer_data: { arn: null },
      created_at: unixNow(),
      batch_id: null,
      // Test mode processes refunds at once.
      status: "processed",
      speed_processed: "normal",
      speed_requested: body.speed === "optimum" ? "optimum" : "normal",
    };
    refunds.set(refund.id, refund);
    payment.amount_refunded += amount;
    payment.refund_status = payment.amount_refunded === payment.amount ? "full" : "partial";
    if (payment.refund_status === "full") payment.status = "refunded";
    emit("refund.created", { refund, payment });
    emit("refund.processed", { refund, payment });
    return { status: 200, body: wire(refund) };
  };

  const paymentRefunds: Handler = ([paymentId], _body, req) => {
    if (!payments.has(paymentId ?? "")) return unknownId();
    const count = Math.min(Number(req.query.get("count") ?? 10) || 10, 100);
    const skip = Number(req.query.get("skip") ?? 0) || 0;
    const items = [...refunds.values()].filter((r) => r.payment_id === paymentId).reverse();
    return { status: 200, body: collection(items.slice(skip, skip + count)) };
  };

  const fetchRefund: Handler = ([first, second]) => {
    // Both /payments/:id/refunds/:id and /refunds/:id.
    const refund = refunds.get((second ?? first) ?? "");
    if (!refund || (second !== undefined && refund.payment_id !== first)) return unknownId();
    return { status: 200, body: wire(refund) };
  };

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
      return route.handler(match.slice(1), body, req);
    }
    return errorReply(400, { description: "The requested URL was not found on the server." });
  }

  function requirePayment(paymentId: string): RazorpayPayment {
    const payment = payments.get(paymentId);
    if (!payment) throw new Error(`no Razorpay payment ${paymentId}`);
    return payment;
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
    payment: (paymentId) => payments.get(paymentId),
    chargeCount(receipt) {
      const orderId = orderIdsByReceipt.get(receipt);
      return [...payments.values()].filter(
        (p) => p.order_id === orderId && (p.status === "authorized" || p.status === "captured" || p.status === "refunded"),
      ).length;
    },
    providerAmount(paymentId) {
      const payment = requirePayment(paymentId);
      return formatSubunits(payment.amount, payment.currency);
    },
    signedWebhook(event, ids) {
      const payment = requirePayment(ids.paymentId);
      const refund = ids.refundId === undefined ? undefined : refunds.get(ids.refundId);
      const order = event === "order.paid" ? orders.get(payment.order_id) : undefined;
      return buildRazorpayWebhook(event, { payment, order, refund }, { accountId, secret: options.webhookSecret });
    },
  };
}

// Orders carry the capture setting as `payment_config.capture` (single
// integration), `payment.capture` (Orders API) or the older `payment_capture`
// flag; without one the account default applies, which is automatic capture.
function captureModeOf(body: Body): "automatic" | "manual" {
  const config = isObject(body.payment_config)
    ? body.payment_config
    : isObject(body.payment) && !("method" in body.payment)
      ? body.payment
      : undefined;
  if (config?.capture === "manual" || config?.capture === "automatic") return config.capture;
  if (body.payment_capture !== undefined) {
    return body.payment_capture === true || body.payment_capture === 1 || body.payment_capture === "1" ? "automatic" : "manual";
  }
  return "automatic";
}
