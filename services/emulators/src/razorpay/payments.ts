import type { EmulatorReply, EmulatorRequest } from "@onerouter/sandbox";
import type { RazorpayAccount } from "./account";
import { errorReply, invalidInput, razorpayId, readNotes, unixNow, unknownId, wire, type RazorpayOrder, type RazorpayPayment } from "./entities";
import type { Body, Handler } from "./request";

// Payments: card payments on an order (S2S JSON), fetch, notes updates, the
// 3-D Secure return, and capture.

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

// A card payment on an order, as POST /v1/payments/create/json or the
// `payment` of the single integration order call makes it.
export function attemptPayment(account: RazorpayAccount, order: RazorpayOrder, details: Body, req: EmulatorRequest): EmulatorReply {
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
  account.payments.set(payment.id, payment);
  order.attempts += 1;
  order.status = "attempted";

  if (decline) {
    payment.status = "failed";
    payment.error_code = "BAD_REQUEST_ERROR";
    payment.error_description = decline.description;
    payment.error_source = decline.source;
    payment.error_step = "payment_authorization";
    payment.error_reason = decline.reason;
    account.emit("payment.failed", { payment });
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
  account.authorize(payment);
  return account.paymentSucceeded(payment);
}

export const createPaymentJson: Handler = (account, _params, body, req) => {
  const order = account.orders.get(typeof body.order_id === "string" ? body.order_id : "");
  if (!order) return invalidInput("The id provided does not exist", "order_id");
  return attemptPayment(account, order, body, req);
};

export const fetchPayment: Handler = (account, [paymentId]) => {
  const payment = account.payments.get(paymentId ?? "");
  return payment ? { status: 200, body: wire(payment) } : unknownId();
};

// Razorpay's Update Payment API changes only the notes, replacing them.
export const editPayment: Handler = (account, [paymentId], body) => {
  const payment = account.payments.get(paymentId ?? "");
  if (!payment) return unknownId();
  const notes = readNotes(body.notes);
  if (typeof notes === "string") return invalidInput(notes, "notes");
  payment.notes = notes;
  return { status: 200, body: wire(payment) };
};

// The customer's return from the 3-D Secure redirect.
export const completeAuthentication: Handler = (account, [paymentId]) => {
  const payment = account.payments.get(paymentId ?? "");
  if (!payment) return unknownId();
  if (payment.status !== "created") return invalidInput("Payment has already been processed", null);
  account.authorize(payment);
  return account.paymentSucceeded(payment);
};

export const capturePayment: Handler = (account, [paymentId], body) => {
  const payment = account.payments.get(paymentId ?? "");
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
  account.capture(payment);
  return { status: 200, body: wire(payment) };
};

