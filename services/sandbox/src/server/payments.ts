import { randomBytes } from "node:crypto";
import type { EmulatorReply } from "../emulator-harness";
import type { SandboxAccount, SandboxMemory } from "./account";
import { Kept } from "./kept";
import { paymentJson, type Payment } from "./objects";
import { SandboxError, errorReply, invalid, isHttpUrl, newId, nowSeconds, readAmount, readString, readStringMap, type JsonObject } from "./wire";

// The sandbox's payments: the outcome is chosen by the test payment method,
// and requires_action payments wait for the customer to visit an action page.

type TestOutcome =
  | { kind: "approve" }
  | { kind: "decline"; declineCode: string; message: string }
  | { kind: "requires_action" };

// The token the sandbox approves, and what it charges when none is given.
export const sandboxApprovedToken = "tok_sandbox_success";

const testPaymentMethods: Record<string, TestOutcome> = {
  [sandboxApprovedToken]: { kind: "approve" },
  tok_sandbox_decline: { kind: "decline", declineCode: "generic_decline", message: "The card was declined." },
  tok_sandbox_insufficient_funds: {
    kind: "decline",
    declineCode: "insufficient_funds",
    message: "The card has insufficient funds.",
  },
  tok_sandbox_requires_action: { kind: "requires_action" },
};
const defaultPaymentMethod = sandboxApprovedToken;
const currencyPattern = /^[A-Z]{3}$/;
const listLimit = 100;

export class SandboxPayments {
  // Action token -> the payment waiting for it. The token is the only
  // credential the customer's browser carries.
  private readonly pendingActions: Kept<{ account: SandboxAccount; paymentId: string }>;

  constructor(memory: SandboxMemory) {
    this.pendingActions = new Kept(memory.limits, memory.now);
  }

  create(account: SandboxAccount, body: JsonObject, baseUrl: string): EmulatorReply {
    const amount = readAmount(body, "amount");
    if (amount === undefined) throw invalid("amount is required");
    const currency = readString(body, "currency");
    if (!currency || !currencyPattern.test(currency)) throw invalid("currency must be a three-letter ISO 4217 code");
    const captureMethod = readString(body, "capture_method") ?? "automatic";
    if (captureMethod !== "automatic" && captureMethod !== "manual") {
      throw invalid("capture_method must be automatic or manual");
    }
    const paymentMethod = readString(body, "payment_method") ?? defaultPaymentMethod;
    const outcome = testPaymentMethods[paymentMethod];
    if (!outcome) {
      throw new SandboxError(400, "unknown_payment_method", `${paymentMethod} is not a sandbox test payment method`);
    }
    const webhookUrl = readString(body, "webhook_url");
    if (webhookUrl !== undefined && !isHttpUrl(webhookUrl)) throw invalid("webhook_url must be an http(s) URL");
    const returnUrl = readString(body, "return_url");
    if (returnUrl !== undefined && !isHttpUrl(returnUrl)) throw invalid("return_url must be an http(s) URL");

    const payment: Payment = {
      id: newId("sbx_pay"),
      attemptId: readString(body, "attempt_id"),
      amount,
      currency,
      captureMethod,
      status: "succeeded",
      amountCapturable: 0n,
      amountCaptured: 0n,
      amountRefunded: 0n,
      paymentMethod,
      returnUrl,
      webhookUrl,
      description: readString(body, "description"),
      metadata: readStringMap(body, "metadata"),
      customer: readStringMap(body, "customer"),
      created: nowSeconds(),
    };
    switch (outcome.kind) {
      case "approve":
        authorize(payment);
        break;
      case "decline":
        payment.status = "declined";
        payment.failure = { declineCode: outcome.declineCode, message: outcome.message };
        break;
      case "requires_action": {
        const token = randomBytes(16).toString("hex");
        payment.status = "requires_action";
        payment.actionUrl = `${baseUrl}/authenticate/${token}`;
        this.pendingActions.add(token, { account, paymentId: payment.id });
        break;
      }
    }
    account.keepPayment(payment);
    account.emit(`payment.${payment.status}`, paymentJson(payment), webhookUrl);
    return { status: 200, body: paymentJson(payment) };
  }

  list(account: SandboxAccount, query: URLSearchParams): EmulatorReply {
    const attemptId = query.get("attempt_id");
    const matching = account
      .paymentsNewestFirst()
      .filter((p) => attemptId === null || p.attemptId === attemptId)
      .slice(0, listLimit);
    return { status: 200, body: { object: "list", data: matching.map(paymentJson) } };
  }

  capture(account: SandboxAccount, id: string, body: JsonObject): EmulatorReply {
    const payment = account.payment(id);
    if (payment.status !== "requires_capture") {
      throw new SandboxError(409, "payment_not_capturable", `Payment ${id} is ${payment.status}, not requires_capture`);
    }
    checkCurrency(body, payment);
    const amount = readAmount(body, "amount") ?? payment.amountCapturable;
    if (amount > payment.amountCapturable) {
      throw new SandboxError(400, "amount_too_large", `Only ${payment.amountCapturable} can be captured`);
    }
    payment.status = "succeeded";
    payment.amountCaptured = amount;
    payment.amountCapturable = 0n;
    account.emit("payment.succeeded", paymentJson(payment), payment.webhookUrl);
    return { status: 200, body: paymentJson(payment) };
  }

  cancel(account: SandboxAccount, id: string): EmulatorReply {
    const payment = account.payment(id);
    if (payment.status !== "requires_capture" && payment.status !== "requires_action") {
      throw new SandboxError(409, "payment_not_cancelable", `Payment ${id} is ${payment.status} and cannot be canceled`);
    }
    payment.status = "canceled";
    payment.amountCapturable = 0n;
    account.emit("payment.canceled", paymentJson(payment), payment.webhookUrl);
    return { status: 200, body: paymentJson(payment) };
  }

  // The page a requires_action redirect lands on: visiting it completes the
  // action, then sends the customer back to the merchant when it can.
  completeAction(token: string): EmulatorReply {
    const pending = this.pendingActions.get(token);
    if (!pending) return errorReply(404, "invalid_request_error", "resource_missing", "No such action");
    this.pendingActions.delete(token);
    let payment: Payment;
    try {
      payment = pending.account.payment(pending.paymentId);
    } catch {
      return errorReply(404, "invalid_request_error", "resource_missing", "No such action");
    }
    if (payment.status === "requires_action") {
      authorize(payment);
      pending.account.emit(`payment.${payment.status}`, paymentJson(payment), payment.webhookUrl);
    }
    if (payment.returnUrl) return { status: 302, headers: { location: payment.returnUrl } };
    return { status: 200, body: paymentJson(payment) };
  }
}

// A capture or refund may name the currency; it must be the payment's.
export function checkCurrency(body: JsonObject, payment: Payment) {
  const currency = readString(body, "currency");
  if (currency !== undefined && currency !== payment.currency) {
    throw new SandboxError(400, "currency_mismatch", `Payment ${payment.id} is in ${payment.currency}, not ${currency}`);
  }
}

// Moves an approved payment to where its capture method leaves it.
function authorize(payment: Payment) {
  if (payment.captureMethod === "manual") {
    payment.status = "requires_capture";
    payment.amountCapturable = payment.amount;
  } else {
    payment.status = "succeeded";
    payment.amountCaptured = payment.amount;
  }
}
