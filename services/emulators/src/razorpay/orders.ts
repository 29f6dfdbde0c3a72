import { amountProblem, subunitExponent } from "./currencies";
import { collection, errorReply, razorpayId, readNotes, unixNow, unknownId, wire, type RazorpayOrder } from "./entities";
import { attemptPayment } from "./payments";
import { isObject, type Body, type Handler } from "./request";

// Orders: create (with the single integration's payment in the same call),
// list by receipt, fetch, and an order's payments.

function orderInputError(description: string, field: string, reason = "input_validation_failed") {
  return errorReply(400, { description, field, source: "business", step: "order_create", reason });
}

export const createOrder: Handler = (account, _params, body, req) => {
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
  if (receipt !== null && account.orderIdsByReceipt.has(receipt)) {
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
  account.orders.set(order.id, order);
  if (receipt !== null) account.orderIdsByReceipt.set(receipt, order.id);
  account.captureModes.set(order.id, captureModeOf(body));

  // The single integration API: an order created together with its payment.
  if (isObject(body.payment) && "method" in body.payment) return attemptPayment(account, order, body.payment, req);
  return { status: 200, body: wire(order) };
};

export const listOrders: Handler = (account, _params, _body, req) => {
  const receipt = req.query.get("receipt");
  const count = Math.min(Number(req.query.get("count") ?? 10) || 10, 100);
  const skip = Number(req.query.get("skip") ?? 0) || 0;
  // Newest first, as Razorpay lists them.
  const matching = [...account.orders.values()].reverse().filter((o) => receipt === null || o.receipt === receipt);
  return { status: 200, body: collection(matching.slice(skip, skip + count)) };
};

export const fetchOrder: Handler = (account, [orderId]) => {
  const order = account.orders.get(orderId ?? "");
  return order ? { status: 200, body: wire(order) } : unknownId();
};

export const orderPayments: Handler = (account, [orderId]) => {
  if (!account.orders.has(orderId ?? "")) return unknownId();
  const items = [...account.payments.values()].filter((p) => p.order_id === orderId).reverse();
  return { status: 200, body: collection(items) };
};

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
