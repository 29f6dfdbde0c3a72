import type { EmulatorReply } from "../emulator-harness";
import type { SandboxAccount } from "./account";
import { refundJson, type Refund } from "./objects";
import { checkCurrency } from "./payments";
import { SandboxError, invalid, newId, nowSeconds, readAmount, readString, type JsonObject } from "./wire";

// Refunds succeed at once, up to what was captured and not yet refunded.
export function createRefund(account: SandboxAccount, body: JsonObject): EmulatorReply {
  const paymentId = readString(body, "payment");
  if (!paymentId) throw invalid("payment is required");
  const payment = account.payment(paymentId);
  if (payment.status !== "succeeded") {
    throw new SandboxError(409, "payment_not_refundable", `Payment ${paymentId} is ${payment.status}`);
  }
  checkCurrency(body, payment);
  const refundable = payment.amountCaptured - payment.amountRefunded;
  const amount = readAmount(body, "amount") ?? refundable;
  if (amount <= 0n || amount > refundable) {
    throw new SandboxError(400, "amount_exceeds_refundable", `Only ${refundable} of payment ${paymentId} can be refunded`);
  }
  const refund: Refund = {
    id: newId("sbx_re"),
    paymentId,
    amount,
    currency: payment.currency,
    reason: readString(body, "reason"),
    created: nowSeconds(),
  };
  payment.amountRefunded += amount;
  account.emit("refund.succeeded", refundJson(refund), payment.webhookUrl);
  return { status: 200, body: refundJson(refund) };
}
