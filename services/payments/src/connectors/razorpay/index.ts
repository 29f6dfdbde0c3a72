import {
  ConnectorError,
  type ConnectorContext,
  type CreatePaymentInput,
  type PaymentConnector,
  type PaymentResult,
} from "../connector";
import { razorpayCurrencies, toRazorpayAmount } from "./amounts";
import { afterMoneyMoved, httpFailure, openSession, type RazorpayAnswer, type RazorpaySession } from "./client";
import {
  decisivePayment,
  declineFailure,
  isCaptureRemainder,
  itemsOf,
  noteKeys,
  notesOf,
  notRazorpaysEntity,
  paymentNotes,
  razorpayNoteLimits,
  paymentResult,
  refundResult,
  type RazorpayPayment,
} from "./mapping";
import { parseRazorpayWebhook } from "./webhook";

export { verifyRazorpaySignature } from "./webhook";

// Razorpay: card payments through its server-to-server JSON API.
//
// A payment is an order with a card payment on it. Both are made in one call
// (Razorpay's single integration API: POST /v1/orders with a `payment`), so
// the only request that can take money is also the one that creates the
// order; a timeout there is found again by the order's receipt, which is the
// attempt id and which Razorpay keeps unique. Sending an attempt again runs
// into that receipt and returns the order's payment instead of charging twice.
//
// Razorpay captures only the whole authorization and has no void:
// - a capture below the authorized amount captures it all and refunds the
//   rest at once, recording the captured amount in the payment's notes;
// - a cancel marks the authorization in its notes and leaves it uncaptured,
//   which Razorpay refunds to the customer when the capture window ends.

interface PaymentAccepted {
  razorpay_payment_id: string;
  razorpay_order_id?: string;
  // Further steps for the customer, e.g. {action: "redirect", url} for 3-D Secure.
  next?: Array<{ action: string; url?: string }>;
}

interface CardPayment {
  amount: number;
  currency: string;
  method: "card";
  token?: string;
  email?: string;
  contact?: string;
  description?: string;
  callback_url?: string;
  notes: Record<string, string>;
}

function cardPayment(input: CreatePaymentInput, amount: number, notes: Record<string, string>): CardPayment {
  return {
    amount,
    currency: input.currency,
    method: "card",
    token: input.paymentMethodToken,
    email: input.customer?.email,
    contact: input.customer?.phone,
    description: input.description,
    callback_url: input.returnUrl,
    notes,
  };
}

function invalid(message: string): ConnectorError {
  return new ConnectorError("invalid_request", "razorpay", message, { reason: "PROVIDER_INVALID_REQUEST" });
}

// The payment Razorpay accepted, read back for its status and amounts.
async function acceptedPayment(session: RazorpaySession, accepted: PaymentAccepted): Promise<PaymentResult> {
  return afterMoneyMoved(async () => {
    if (typeof accepted?.razorpay_payment_id !== "string") throw notRazorpaysEntity("an accepted payment");
    const payment = await session.call((sdk) => sdk.payments.fetch(accepted.razorpay_payment_id));
    const result = paymentResult(payment);
    const redirect = accepted.next?.find((step) => step.action === "redirect")?.url;
    return result.status === "requires_action" && redirect ? { ...result, redirectUrl: redirect } : result;
  });
}

// Razorpay answers a declined payment with an error naming the failed payment.
function declined(answer: Extract<RazorpayAnswer<unknown>, { ok: false }>): PaymentResult | undefined {
  const paymentId = answer.error.metadata?.payment_id;
  if (!paymentId) return undefined;
  return {
    status: "declined",
    providerPaymentId: paymentId,
    failure: declineFailure(answer.error.reason, answer.error.code, answer.error.description),
  };
}

async function orderForAttempt(session: RazorpaySession, attemptId: string) {
  const orders = await session.call((sdk) => sdk.orders.all({ receipt: attemptId, count: 1 }));
  return itemsOf(orders)[0];
}

async function paymentsOfOrder(session: RazorpaySession, orderId: string): Promise<RazorpayPayment[]> {
  return itemsOf(await session.call((sdk) => sdk.orders.fetchPayments(orderId)));
}

// The attempt's order exists already: its payment is the answer. When the
// earlier call left the order without one, the payment is made on it now.
async function continueAttempt(
  session: RazorpaySession,
  input: CreatePaymentInput,
  payment: CardPayment,
  receiptTaken: Extract<RazorpayAnswer<unknown>, { ok: false }>,
): Promise<PaymentResult> {
  const order = await orderForAttempt(session, input.attemptId);
  if (!order) throw httpFailure(receiptTaken.status, receiptTaken.error);
  const existing = decisivePayment(await paymentsOfOrder(session, order.id));
  if (existing) return paymentResult(existing);
  // The SDK's payments.createPaymentJson posts here too, but its typings
  // demand raw card fields this tokenised payment does not carry.
  const answer = await session.answer((sdk) =>
    sdk.api.post<CardPayment & { order_id: string }, PaymentAccepted>({
      url: "/payments/create/json",
      data: { ...payment, order_id: order.id },
    }),
  );
  if (answer.ok) return acceptedPayment(session, answer.value);
  const decline = declined(answer);
  if (decline) return decline;
  throw httpFailure(answer.status, answer.error);
}

async function fetchPayment(session: RazorpaySession, providerPaymentId: string): Promise<RazorpayPayment> {
  return session.call((sdk) => sdk.payments.fetch(providerPaymentId));
}

export const razorpayConnector: PaymentConnector = {
  name: "razorpay",
  credentialKeys: ["key_id", "key_secret", "webhook_secret"],
  currencies: razorpayCurrencies,
  metadataLimits: razorpayNoteLimits,
  // Razorpay's server-to-server card payments are made with its card tokens.
  needsPaymentMethodToken: true,

  async createPayment(ctx, input) {
    const amount = toRazorpayAmount(input.amount, input.currency);
    const session = await openSession(ctx);
    const notes = paymentNotes(input);
    const payment = cardPayment(input, amount, notes);
    // The single integration order body is not in the SDK's typings; it goes
    // through the SDK's own API client like orders.create would.
    const answer = await session.answer((sdk) =>
      sdk.api.post<Record<string, unknown>, PaymentAccepted>({
        url: "/orders",
        data: {
          amount,
          currency: input.currency,
          receipt: input.attemptId,
          notes,
          payment_config: { capture: input.captureMethod },
          payment,
        },
      }),
    );
    if (answer.ok) return acceptedPayment(session, answer.value);
    const decline = declined(answer);
    if (decline) return decline;
    if (answer.status === 400 && answer.error.field === "receipt") return continueAttempt(session, input, payment, answer);
    throw httpFailure(answer.status, answer.error);
  },

  async capturePayment(ctx, input) {
    const session = await openSession(ctx);
    const amount = toRazorpayAmount(input.amount, input.currency);
    let payment = await fetchPayment(session, input.providerPaymentId);
    const authorized = Number(payment.amount);
    if (amount > authorized) throw invalid(`cannot capture ${amount}: only ${authorized} is authorized`);
    if (payment.status === "authorized") {
      if (notesOf(payment)[noteKeys.canceled]) throw invalid("the payment was canceled");
      if (amount < authorized) {
        const notes = { ...notesOf(payment), [noteKeys.capturedAmount]: String(amount) };
        payment = await session.call((sdk) => sdk.payments.edit(input.providerPaymentId, { notes }));
      }
      payment = await session.call((sdk) => sdk.payments.capture(input.providerPaymentId, authorized, input.currency));
    } else if (!payment.captured) {
      throw invalid(`a ${payment.status} payment cannot be captured`);
    }
    const captured = payment;
    return afterMoneyMoved(async () => {
      const capturedAmount = notesOf(captured)[noteKeys.capturedAmount];
      if (capturedAmount !== undefined) {
        const refunds = await session.call((sdk) => sdk.payments.fetchMultipleRefund(captured.id, { count: 100 }));
        if (!itemsOf(refunds).some(isCaptureRemainder)) {
          await session.call((sdk) =>
            sdk.payments.refund(captured.id, {
              amount: authorized - Number(capturedAmount),
              speed: "normal",
              notes: { [noteKeys.captureRemainder]: "true" },
            }),
          );
        }
      }
      return paymentResult(captured);
    });
  },

  async cancelPayment(ctx, input) {
    const session = await openSession(ctx);
    const payment = await fetchPayment(session, input.providerPaymentId);
    if (payment.captured) throw invalid("a captured Razorpay payment is refunded, not canceled");
    // Razorpay fails a payment the customer never authenticates; until then nothing can stop it.
    if (payment.status === "created") throw invalid("the customer is still authenticating the payment");
    if (payment.status !== "authorized") return paymentResult(payment);
    const notes = notesOf(payment);
    if (notes[noteKeys.canceled]) return paymentResult(payment);
    const marked = await session.call((sdk) =>
      sdk.payments.edit(input.providerPaymentId, { notes: { ...notes, [noteKeys.canceled]: "true" } }),
    );
    return paymentResult(marked);
  },

  async refundPayment(ctx, input) {
    const session = await openSession(ctx);
    const amount = toRazorpayAmount(input.amount, input.currency);
    // Razorpay has no idempotency key for refunds: a refund already made for
    // this key is found by its notes before another is made.
    const refunds = await session.call((sdk) => sdk.payments.fetchMultipleRefund(input.providerPaymentId, { count: 100 }));
    const existing = itemsOf(refunds).find((refund) => notesOf(refund)[noteKeys.refundKey] === input.idempotencyKey);
    if (existing) return refundResult(existing);
    const notes: Record<string, string> = {
      [noteKeys.refundId]: input.refundId,
      [noteKeys.refundKey]: input.idempotencyKey,
    };
    if (input.reason) notes[noteKeys.refundReason] = input.reason.slice(0, 256);
    const refund = await session.call((sdk) =>
      sdk.payments.refund(input.providerPaymentId, {
        amount,
        speed: "normal",
        notes,
        // Razorpay receipts are at most 40 characters.
        receipt: input.refundId.length <= 40 ? input.refundId : undefined,
      }),
    );
    return refundResult(refund);
  },

  async syncPayment(ctx, input) {
    const session = await openSession(ctx);
    if (input.providerPaymentId) return paymentResult(await fetchPayment(session, input.providerPaymentId));
    const order = await orderForAttempt(session, input.attemptId);
    if (!order) return null;
    // An order without a payment took no money.
    const payment = decisivePayment(await paymentsOfOrder(session, order.id));
    return payment ? paymentResult(payment) : null;
  },

  async testCredentials(ctx: ConnectorContext) {
    const session = await openSession(ctx);
    itemsOf(await session.call((sdk) => sdk.orders.all({ count: 1 })));
  },

  async parseWebhook(ctx, input) {
    return parseRazorpayWebhook(ctx, input);
  },
};
