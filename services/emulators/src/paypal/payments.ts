import type { EmulatorRequest } from "@onerouter/sandbox";
import type { CallResult, PaypalAccount } from "./account";
import { notFound, unprocessable } from "./errors";
import { jsonBody, optionalString, validMoney } from "./request";
import { fromLowestUnit, paypalId, timestamp, toLowestUnit, type EmulatedRefund, type Money } from "./resources";

// Payments v2: capturing and voiding an authorization, refunding a capture.

export function captureAuthorization(account: PaypalAccount, api: string, req: EmulatorRequest, authorizationId: string): CallResult {
  const authorization = account.authorizations.get(authorizationId) ?? notFound("authorization_id");
  const body = jsonBody(req);
  switch (authorization.status) {
    case "VOIDED":
      unprocessable("AUTHORIZATION_VOIDED", "A voided authorization cannot be captured or reauthorized.");
    case "DENIED":
      unprocessable("AUTHORIZATION_DENIED", "A denied authorization cannot be captured.");
    case "CAPTURED":
      unprocessable("AUTHORIZATION_ALREADY_CAPTURED", "Authorization has already been captured.");
  }
  const captured = authorization.captureIds.map((id) => account.captures.get(id)?.amount);
  const { amount, remaining } = amountWithinRemaining(body.amount, authorization.amount, captured, amountRefusals.capture);
  const finalCapture = body.final_capture === true;
  const order = account.findOrder(authorization.orderId);
  const created = account.capture(api, order, amount, finalCapture, authorization.id);
  authorization.captureIds.push(created.id);
  authorization.status = finalCapture || toLowestUnit(amount) === remaining ? "CAPTURED" : "PARTIALLY_CAPTURED";
  authorization.updateTime = created.createTime;
  return { kind: "capture", id: created.id };
}

export function voidAuthorization(account: PaypalAccount, api: string, authorizationId: string): CallResult {
  const authorization = account.authorizations.get(authorizationId) ?? notFound("authorization_id");
  switch (authorization.status) {
    case "CAPTURED":
      unprocessable("PREVIOUSLY_CAPTURED", "Authorization has been previously captured and hence cannot be voided.");
    case "VOIDED":
      unprocessable("PREVIOUSLY_VOIDED", "Authorization has been previously voided and hence cannot be voided again.");
    case "DENIED":
      unprocessable("AUTHORIZATION_DENIED", "A denied authorization cannot be voided.");
  }
  authorization.status = "VOIDED";
  authorization.updateTime = timestamp();
  account.emit(api, "PAYMENT.AUTHORIZATION.VOIDED", account.findOrder(authorization.orderId));
  return { kind: "authorization", id: authorization.id, emptyWhenMinimal: true };
}

export function refundCapture(account: PaypalAccount, api: string, req: EmulatorRequest, captureId: string): CallResult {
  const refunded = account.captures.get(captureId) ?? notFound("capture_id");
  const body = jsonBody(req);
  if (refunded.status === "REFUNDED") unprocessable("CAPTURE_FULLY_REFUNDED", "The capture has already been fully refunded.");
  if (refunded.status === "DECLINED") unprocessable("REFUND_NOT_ALLOWED", "A declined capture cannot be refunded.");
  const previous = refunded.refundIds.map((id) => account.refunds.get(id)?.amount);
  const { amount, remaining } = amountWithinRemaining(body.amount, refunded.amount, previous, amountRefusals.refund);
  const now = timestamp();
  const refund: EmulatedRefund = {
    id: paypalId(),
    captureId: refunded.id,
    status: "COMPLETED",
    amount,
    customId: optionalString(body.custom_id, "/custom_id", 127),
    noteToPayer: optionalString(body.note_to_payer, "/note_to_payer", 255),
    createTime: now,
    updateTime: now,
  };
  account.refunds.set(refund.id, refund);
  refunded.refundIds.push(refund.id);
  refunded.status = toLowestUnit(amount) === remaining ? "REFUNDED" : "PARTIALLY_REFUNDED";
  refunded.updateTime = now;
  account.emit(api, "PAYMENT.CAPTURE.REFUNDED", account.findOrder(refunded.orderId));
  return { kind: "refund", id: refund.id };
}

// The amount a capture or refund asks for, or all that is left of `original`
// after `taken` when it names none; it must be in the original's currency and
// no more than is left.
function amountWithinRemaining(
  requested: unknown,
  original: Money,
  taken: (Money | undefined)[],
  refusals: (typeof amountRefusals)[keyof typeof amountRefusals],
): { amount: Money; remaining: bigint } {
  const remaining = taken.reduce((left, m) => (m === undefined ? left : left - toLowestUnit(m)), toLowestUnit(original));
  const amount = requested === undefined ? fromLowestUnit(remaining, original.currency_code) : validMoney(requested, "/amount");
  if (amount.currency_code !== original.currency_code) unprocessable("CURRENCY_MISMATCH", refusals.currencyMismatch);
  if (toLowestUnit(amount) > remaining) unprocessable(refusals.exceededIssue, refusals.exceeded);
  return { amount, remaining };
}

// What PayPal answers when a capture or refund asks for the wrong amount.
const amountRefusals = {
  capture: {
    currencyMismatch: "Currency of capture must be the same as currency of authorization.",
    exceededIssue: "MAX_CAPTURE_AMOUNT_EXCEEDED",
    exceeded: "Capture amount exceeds allowable limit.",
  },
  refund: {
    currencyMismatch: "Refund must be in the same currency as the capture.",
    exceededIssue: "REFUND_AMOUNT_EXCEEDED",
    exceeded: "The refund amount must be less than or equal to the capture amount that has not yet been refunded.",
  },
} as const;

