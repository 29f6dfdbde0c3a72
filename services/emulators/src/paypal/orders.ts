import type { EmulatorReply, EmulatorRequest } from "@onerouter/sandbox";
import { processorResponseCodes, type CallResult, type PaypalAccount } from "./account";
import { fail, notFound, unprocessable } from "./errors";
import { asRecord, header, jsonBody, optionalString, validMoney } from "./request";
import { paypalId, timestamp, type EmulatedOrder } from "./resources";

// Orders v2: create, capture and authorize, and the buyer's approval.

export function createOrder(account: PaypalAccount, api: string, req: EmulatorRequest): CallResult {
  const body = jsonBody(req);
  const intent = body.intent;
  if (intent !== "CAPTURE" && intent !== "AUTHORIZE") {
    fail("INVALID_REQUEST", { issue: "INVALID_PARAMETER_VALUE", description: "The value of a field is invalid.", field: "/intent", location: "body" });
  }
  const unit = Array.isArray(body.purchase_units) ? asRecord(body.purchase_units[0]) : undefined;
  if (!unit) {
    fail("INVALID_REQUEST", { issue: "MISSING_REQUIRED_PARAMETER", description: "A required field is missing.", field: "/purchase_units", location: "body" });
  }
  const field = "/purchase_units/@reference_id=='default'";
  const purchaseUnit = {
    reference_id: optionalString(unit.reference_id, `${field}/reference_id`, 256),
    custom_id: optionalString(unit.custom_id, `${field}/custom_id`, 127),
    invoice_id: optionalString(unit.invoice_id, `${field}/invoice_id`, 127),
    description: optionalString(unit.description, `${field}/description`, 127),
    amount: validMoney(unit.amount, `${field}/amount`),
  };
  const invoiceId = purchaseUnit.invoice_id;
  if (invoiceId !== undefined && [...account.orders.values()].some((o) => o.purchaseUnit.invoice_id === invoiceId)) {
    unprocessable("DUPLICATE_INVOICE_ID", "Duplicate Invoice ID detected. To avoid a potential duplicate transaction your account setting requires that Invoice ID be unique for each transaction.");
  }
  const source = asRecord(body.payment_source);
  const card = asRecord(source?.card);
  const paypal = asRecord(source?.paypal);
  if (source && !card && !paypal) {
    unprocessable("PAYMENT_SOURCE_NOT_SUPPORTED", "The payment source is not supported by this emulator.");
  }
  const vaultId = optionalString(card?.vault_id, "/payment_source/card/vault_id", 255);
  if (card && vaultId === undefined) {
    unprocessable("PAYMENT_SOURCE_INFO_CANNOT_BE_VERIFIED", "Only vaulted cards (vault_id) are accepted.");
  }
  if (vaultId !== undefined) {
    // A single-step order moves money at once: PayPal insists on an idempotency key.
    if (!header(req, "paypal-request-id")) {
      fail("INVALID_REQUEST", { issue: "PAYPAL_REQUEST_ID_REQUIRED", description: "A PayPal-Request-Id is required if you are trying to process payment for an Order.", location: "header" });
    }
    if (!(vaultId in processorResponseCodes)) notFound("/payment_source/card/vault_id");
  }
  const experience = asRecord(paypal?.experience_context);
  const now = timestamp();
  const order: EmulatedOrder = {
    id: paypalId(),
    intent,
    status: vaultId !== undefined ? "COMPLETED" : experience ? "PAYER_ACTION_REQUIRED" : "CREATED",
    purchaseUnit,
    card: vaultId !== undefined ? { vaultId } : undefined,
    paypal: paypal
      ? {
          emailAddress: optionalString(paypal.email_address, "/payment_source/paypal/email_address", 254),
          returnUrl: optionalString(experience?.return_url, "/payment_source/paypal/experience_context/return_url", 4000),
          cancelUrl: optionalString(experience?.cancel_url, "/payment_source/paypal/experience_context/cancel_url", 4000),
        }
      : undefined,
    authorizationIds: [],
    captureIds: [],
    createTime: now,
    updateTime: now,
  };
  account.orders.set(order.id, order);
  if (vaultId !== undefined) {
    if (intent === "CAPTURE") account.capture(api, order, purchaseUnit.amount, true);
    else account.authorize(api, order);
  }
  return { kind: "order", id: order.id };
}

// What PayPal answers when an order is completed the wrong way or twice.
const completionRefusals = {
  CAPTURE: {
    otherIntent: "Order was created with an intent to 'AUTHORIZE'. Please use authorize or change the intent.",
    alreadyCompletedIssue: "ORDER_ALREADY_CAPTURED",
    alreadyCompleted: "Order already captured. If 'intent=CAPTURE' only one capture per order is allowed.",
  },
  AUTHORIZE: {
    otherIntent: "Order was created with an intent to 'CAPTURE'. Please use capture or change the intent.",
    alreadyCompletedIssue: "ORDER_ALREADY_AUTHORIZED",
    alreadyCompleted: "Order already authorized. If 'intent=AUTHORIZE' only one authorization per order is allowed.",
  },
} as const;

// An approved order of `intent`, marked COMPLETED.
function completeOrder(account: PaypalAccount, orderId: string, intent: keyof typeof completionRefusals): EmulatedOrder {
  const order = account.findOrder(orderId);
  const refusals = completionRefusals[intent];
  if (order.intent !== intent) unprocessable("ACTION_DOES_NOT_MATCH_INTENT", refusals.otherIntent);
  if (order.status === "COMPLETED") unprocessable(refusals.alreadyCompletedIssue, refusals.alreadyCompleted);
  if (order.status !== "APPROVED") unprocessable("ORDER_NOT_APPROVED", "Payer has not yet approved the Order for payment.");
  order.status = "COMPLETED";
  return order;
}

export function captureOrder(account: PaypalAccount, api: string, orderId: string): CallResult {
  const order = completeOrder(account, orderId, "CAPTURE");
  account.capture(api, order, order.purchaseUnit.amount, true);
  return { kind: "order", id: order.id };
}

export function authorizeOrder(account: PaypalAccount, api: string, orderId: string): CallResult {
  const order = completeOrder(account, orderId, "AUTHORIZE");
  account.authorize(api, order);
  return { kind: "order", id: order.id };
}

// The buyer's side: stands in for PayPal's hosted approval page.
export function approveOrder(account: PaypalAccount, api: string, req: EmulatorRequest): EmulatorReply {
  const order = account.orders.get(req.query.get("token") ?? "") ?? notFound("token");
  if (order.status === "CREATED" || order.status === "PAYER_ACTION_REQUIRED") {
    order.status = "APPROVED";
    order.payer = {
      payer_id: paypalId(13),
      email_address: order.paypal?.emailAddress ?? "buyer@example.com",
      name: { given_name: "Emulated", surname: "Buyer" },
    };
    order.updateTime = timestamp();
    account.emit(api, "CHECKOUT.ORDER.APPROVED", order);
  }
  const returnUrl = order.paypal?.returnUrl;
  if (!returnUrl) return { status: 200, body: { id: order.id, status: order.status } };
  const back = new URL(returnUrl);
  back.searchParams.set("token", order.id);
  if (order.payer) back.searchParams.set("PayerID", order.payer.payer_id);
  return { status: 302, headers: { location: back.toString() } };
}
