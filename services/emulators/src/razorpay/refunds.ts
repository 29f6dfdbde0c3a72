import { collection, invalidInput, razorpayId, readNotes, unixNow, unknownId, wire, type RazorpayRefund } from "./entities";
import type { Handler } from "./request";

// Refunds of a captured payment: create (processed at once, as in test
// mode), list a payment's refunds, fetch one.

export const refundPayment: Handler = (account, [paymentId], body) => {
  const payment = account.payments.get(paymentId ?? "");
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
  account.refunds.set(refund.id, refund);
  payment.amount_refunded += amount;
  payment.refund_status = payment.amount_refunded === payment.amount ? "full" : "partial";
  if (payment.refund_status === "full") payment.status = "refunded";
  account.emit("refund.created", { refund, payment });
  account.emit("refund.processed", { refund, payment });
  return { status: 200, body: wire(refund) };
};

export const paymentRefunds: Handler = (account, [paymentId], _body, req) => {
  if (!account.payments.has(paymentId ?? "")) return unknownId();
  const count = Math.min(Number(req.query.get("count") ?? 10) || 10, 100);
  const skip = Number(req.query.get("skip") ?? 0) || 0;
  const items = [...account.refunds.values()].filter((r) => r.payment_id === paymentId).reverse();
  return { status: 200, body: collection(items.slice(skip, skip + count)) };
};

export const fetchRefund: Handler = (account, [first, second]) => {
  // Both /payments/:id/refunds/:id and /refunds/:id.
  const refund = account.refunds.get((second ?? first) ?? "");
  if (!refund || (second !== undefined && refund.payment_id !== first)) return unknownId();
  return { status: 200, body: wire(refund) };
};

