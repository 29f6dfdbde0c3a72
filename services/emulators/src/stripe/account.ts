import { formatStripeAmount, stripeAmountStep } from "./currency";
import { StripeApiError, invalidRequest, resourceMissing } from "./errors";
import type { StripeParams } from "./form";
import {
  metadataParam,
  oneOf,
  optionalBoolean,
  optionalInteger,
  optionalString,
  rejectUnknown,
  requiredInteger,
  requiredString,
} from "./params";
import { SearchSyntaxError, matchesSearch, parseSearchQuery } from "./search";
import {
  stripeId,
  unixNow,
  type Charge,
  type PaymentError,
  type PaymentIntent,
  type PaymentIntentStatus,
  type Refund,
  type StripeEvent,
} from "./objects";

// Stripe's documented test PaymentMethods and what confirming with each does.
type TestCardOutcome =
  | { kind: "authorize" }
  | { kind: "decline"; declineCode: string; message: string }
  | { kind: "authenticate" };

const testPaymentMethods: Record<string, TestCardOutcome> = {
  pm_card_visa: { kind: "authorize" },
  pm_card_mastercard: { kind: "authorize" },
  pm_card_chargeDeclined: { kind: "decline", declineCode: "generic_decline", message: "Your card was declined." },
  pm_card_chargeDeclinedInsufficientFunds: {
    kind: "decline",
    declineCode: "insufficient_funds",
    message: "Your card has insufficient funds.",
  },
  pm_card_authenticationRequired: { kind: "authenticate" },
};

const cancelableStatuses: PaymentIntentStatus[] = [
  "requires_payment_method",
  "requires_capture",
  "requires_confirmation",
  "requires_action",
  "processing",
];

// Who asked for a change: recorded on the events it causes, as Stripe does.
export interface RequestContext {
  requestId: string;
  idempotencyKey: string | null;
  // Scheme and host the emulator was reached at, for links it hands out.
  origin: string;
}

// One Stripe account's objects, in memory, with the state machine of
// PaymentIntents, Charges and Refunds.
export class StripeAccount {
  private readonly paymentIntents = new Map<string, PaymentIntent>();
  private readonly charges = new Map<string, Charge>();
  private readonly refunds = new Map<string, Refund>();
  // Where each PaymentIntent sends the customer after authentication.
  private readonly returnUrls = new Map<string, string>();
  readonly events: StripeEvent[] = [];

  constructor(
    readonly apiVersion: string,
    private readonly onEvent: (event: StripeEvent) => void,
  ) {}

  createPaymentIntent(params: StripeParams, request: RequestContext): PaymentIntent {
    rejectUnknown(params, [
      "amount",
      "automatic_payment_methods",
      "capture_method",
      "confirm",
      "currency",
      "description",
      "expand",
      "metadata",
      "payment_method",
      "payment_method_types",
      "receipt_email",
      "return_url",
    ]);
    const amount = requiredInteger(params, "amount");
    const currency = requiredString(params, "currency").toLowerCase();
    if (!/^[a-z]{3}$/.test(currency)) throw invalidRequest(`Invalid currency: ${currency}.`, { param: "currency" });
    checkAmount(amount, currency, "amount");
    const captureMethod = oneOf(params, "capture_method", ["automatic", "automatic_async", "manual"] as const);
    const confirm = optionalBoolean(params, "confirm") ?? false;
    const paymentMethod = optionalString(params, "payment_method");
    const returnUrl = optionalString(params, "return_url");
    const metadata = metadataParam(params);
    if (returnUrl !== undefined && !confirm) {
      throw invalidRequest("`return_url` can only be passed when `confirm` is true.", { param: "return_url" });
    }
    if (confirm && paymentMethod === undefined) {
      throw invalidRequest(
        "You cannot confirm this PaymentIntent because it's missing a payment method. Update the PaymentIntent with a payment method and then confirm it again.",
        { code: "payment_intent_unexpected_state" },
      );
    }
    const card = paymentMethod === undefined ? undefined : testPaymentMethods[paymentMethod];
    if (paymentMethod !== undefined && card === undefined) {
      throw resourceMissing("PaymentMethod", paymentMethod, "payment_method", 400);
    }

    const id = stripeId("pi");
    const intent: PaymentIntent = {
      id,
      object: "payment_intent",
      amount,
      amount_capturable: 0,
      amount_received: 0,
      canceled_at: null,
      cancellation_reason: null,
      capture_method: captureMethod ?? "automatic_async",
      client_secret: `${id}_secret_${stripeId("x").slice(2)}`,
      confirmation_method: "automatic",
      created: unixNow(),
      currency,
      description: optionalString(params, "description") ?? null,
      last_payment_error: null,
      latest_charge: null,
      livemode: false,
      metadata,
      next_action: null,
      // Test PaymentMethod ids stand for cards; Stripe attaches a fresh pm_ per use.
      payment_method: paymentMethod === undefined ? null : stripeId("pm"),
      payment_method_types: ["card"],
      receipt_email: optionalString(params, "receipt_email") ?? null,
      status: paymentMethod === undefined ? "requires_payment_method" : "requires_confirmation",
    };
    this.paymentIntents.set(id, intent);
    if (returnUrl !== undefined) this.returnUrls.set(id, returnUrl);
    this.emit("payment_intent.created", intent, request);
    if (!confirm || card === undefined) return intent;

    if (card.kind === "authorize") return this.authorize(intent, request);
    if (card.kind === "authenticate") {
      const url = `${request.origin}/_emulator/3ds/${id}`;
      intent.status = "requires_action";
      intent.next_action =
        returnUrl === undefined
          ? { type: "use_stripe_sdk", use_stripe_sdk: { type: "three_d_secure_redirect", stripe_js: url } }
          : { type: "redirect_to_url", redirect_to_url: { url, return_url: returnUrl } };
      this.emit("payment_intent.requires_action", intent, request);
      return intent;
    }
    const charge = this.createCharge(intent, { declineCode: card.declineCode, message: card.message });
    const error: PaymentError = {
      type: "card_error",
      code: "card_declined",
      decline_code: card.declineCode,
      message: card.message,
      charge: charge.id,
      doc_url: "https://stripe.com/docs/error-codes/card-declined",
    };
    intent.status = "requires_payment_method";
    intent.last_payment_error = error;
    this.emit("payment_intent.payment_failed", intent, request);
    throw new StripeApiError(402, { ...error, payment_intent: structuredClone(intent) });
  }

  retrievePaymentIntent(id: string): PaymentIntent {
    const intent = this.paymentIntents.get(id);
    if (!intent) throw resourceMissing("payment_intent", id, "intent");
    return intent;
  }

  capturePaymentIntent(id: string, params: StripeParams, request: RequestContext): PaymentIntent {
    rejectUnknown(params, ["amount_to_capture", "expand", "metadata"]);
    const intent = this.retrievePaymentIntent(id);
    if (intent.status !== "requires_capture") {
      throw invalidRequest(`This PaymentIntent could not be captured because it has a status of ${intent.status}.`, {
        code: "payment_intent_unexpected_state",
      });
    }
    const amount = optionalInteger(params, "amount_to_capture") ?? intent.amount_capturable;
    checkAmount(amount, intent.currency, "amount_to_capture");
    if (amount > intent.amount_capturable) {
      throw invalidRequest(
        `The amount_to_capture (${amount}) must be less than or equal to the PaymentIntent's amount_capturable (${intent.amount_capturable}).`,
        { code: "amount_too_large", param: "amount_to_capture" },
      );
    }
    Object.assign(intent.metadata, metadataParam(params));
    const charge = this.chargeOf(intent);
    charge.captured = true;
    charge.amount_captured = amount;
    intent.amount_received = amount;
    intent.amount_capturable = 0;
    intent.status = "succeeded";
    this.emit("payment_intent.succeeded", intent, request);
    return intent;
  }

  cancelPaymentIntent(id: string, params: StripeParams, request: RequestContext): PaymentIntent {
    rejectUnknown(params, ["cancellation_reason", "expand"]);
    const reason = oneOf(params, "cancellation_reason", [
      "abandoned",
      "duplicate",
      "fraudulent",
      "requested_by_customer",
    ] as const);
    const intent = this.retrievePaymentIntent(id);
    if (!cancelableStatuses.includes(intent.status)) {
      throw invalidRequest(
        `You cannot cancel this PaymentIntent because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be canceled: ${cancelableStatuses.join(", ")}.`,
        { code: "payment_intent_unexpected_state" },
      );
    }
    // Canceling releases an uncaptured authorization, which Stripe shows as a refunded charge.
    const charge = intent.latest_charge ? this.charges.get(intent.latest_charge) : undefined;
    if (charge && charge.status === "succeeded" && !charge.captured) {
      charge.amount_refunded = charge.amount;
      charge.refunded = true;
    }
    intent.status = "canceled";
    intent.canceled_at = unixNow();
    intent.cancellation_reason = reason ?? null;
    intent.amount_capturable = 0;
    intent.next_action = null;
    this.emit("payment_intent.canceled", intent, request);
    return intent;
  }

  // What the hosted 3D Secure page does when the customer finishes it.
  completeAuthentication(id: string, authenticated: boolean, request: RequestContext): PaymentIntent {
    const intent = this.retrievePaymentIntent(id);
    if (intent.status !== "requires_action") {
      throw invalidRequest(`This PaymentIntent has a status of ${intent.status} and needs no authentication.`, {
        code: "payment_intent_unexpected_state",
      });
    }
    intent.next_action = null;
    if (authenticated) return this.authorize(intent, request);
    intent.status = "requires_payment_method";
    intent.last_payment_error = {
      type: "invalid_request_error",
      code: "payment_intent_authentication_failure",
      message:
        "The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.",
    };
    this.emit("payment_intent.payment_failed", intent, request);
    return intent;
  }

  returnUrlOf(id: string): string | undefined {
    return this.returnUrls.get(id);
  }

  searchPaymentIntents(params: StripeParams) {
    rejectUnknown(params, ["expand", "limit", "page", "query"]);
    const limit = optionalInteger(params, "limit") ?? 10;
    if (limit < 1 || limit > 100) throw invalidRequest("limit must be between 1 and 100", { param: "limit" });
    const page = optionalString(params, "page");
    const offset = page === undefined ? 0 : Number(Buffer.from(page, "base64url").toString("utf8"));
    if (!Number.isSafeInteger(offset) || offset < 0) throw invalidRequest("Invalid page token", { param: "page" });
    let query;
    try {
      query = parseSearchQuery(requiredString(params, "query"));
    } catch (err) {
      if (err instanceof SearchSyntaxError) throw invalidRequest(err.message, { param: "query" });
      throw err;
    }
    const matches = [...this.paymentIntents.values()]
      .filter((intent) =>
        matchesSearch(query, (clause) => {
          if (clause.field === "metadata") return intent.metadata[clause.key ?? ""];
          if (clause.field === "amount") return String(intent.amount);
          if (clause.field === "currency") return intent.currency;
          if (clause.field === "status") return intent.status;
          return undefined;
        }),
      )
      .sort((a, b) => b.created - a.created);
    const data = matches.slice(offset, offset + limit);
    const hasMore = offset + limit < matches.length;
    return {
      object: "search_result",
      data,
      has_more: hasMore,
      next_page: hasMore ? Buffer.from(String(offset + limit)).toString("base64url") : null,
      url: "/v1/payment_intents/search",
    };
  }

  createRefund(params: StripeParams, request: RequestContext): Refund {
    rejectUnknown(params, ["amount", "charge", "expand", "metadata", "payment_intent", "reason"]);
    const paymentIntentId = optionalString(params, "payment_intent");
    const chargeId = optionalString(params, "charge");
    const reason = oneOf(params, "reason", ["duplicate", "fraudulent", "requested_by_customer"] as const);
    const metadata = metadataParam(params);
    if ((paymentIntentId === undefined) === (chargeId === undefined)) {
      throw invalidRequest("You must pass exactly one of `charge` or `payment_intent`.", { code: "parameter_missing" });
    }
    let charge: Charge | undefined;
    if (paymentIntentId !== undefined) {
      const intent = this.paymentIntents.get(paymentIntentId);
      if (!intent) throw resourceMissing("payment_intent", paymentIntentId, "payment_intent", 400);
      if (intent.status !== "succeeded") {
        throw invalidRequest(`This PaymentIntent (${paymentIntentId}) does not have a successful charge to refund.`, {
          code: "charge_not_refundable",
          param: "payment_intent",
        });
      }
      charge = this.chargeOf(intent);
    } else {
      charge = this.charges.get(chargeId as string);
      if (!charge) throw resourceMissing("charge", chargeId as string, "charge", 400);
    }
    if (charge.status !== "succeeded" || !charge.captured) {
      throw invalidRequest(`Charge ${charge.id} has not been captured and cannot be refunded.`, {
        code: "charge_not_refundable",
      });
    }
    const refundable = charge.amount_captured - charge.amount_refunded;
    if (refundable === 0) {
      throw invalidRequest(`Charge ${charge.id} has already been refunded.`, { code: "charge_already_refunded" });
    }
    const amount = optionalInteger(params, "amount") ?? refundable;
    checkAmount(amount, charge.currency, "amount");
    if (amount > refundable) {
      const currency = charge.currency.toUpperCase();
      throw invalidRequest(
        `Refund amount (${currency} ${formatStripeAmount(amount, charge.currency)}) is greater than unrefunded amount on charge (${currency} ${formatStripeAmount(refundable, charge.currency)})`,
        { code: "amount_too_large", param: "amount" },
      );
    }
    const refund: Refund = {
      id: stripeId("re"),
      object: "refund",
      amount,
      charge: charge.id,
      created: unixNow(),
      currency: charge.currency,
      metadata,
      payment_intent: charge.payment_intent,
      reason: reason ?? null,
      status: "succeeded",
    };
    this.refunds.set(refund.id, refund);
    charge.amount_refunded += amount;
    charge.refunded = charge.amount_refunded === charge.amount_captured;
    this.emit("refund.created", refund, request);
    this.emit("charge.refunded", charge, request);
    return refund;
  }

  // Settled money per currency: captured minus refunded. Test mode pays out
  // nothing, so all of it is available.
  balance() {
    const totals = new Map<string, number>();
    for (const charge of this.charges.values()) {
      if (!charge.captured) continue;
      totals.set(charge.currency, (totals.get(charge.currency) ?? 0) + charge.amount_captured - charge.amount_refunded);
    }
    if (totals.size === 0) totals.set("usd", 0);
    return {
      object: "balance",
      available: [...totals].map(([currency, amount]) => ({ amount, currency, source_types: { card: amount } })),
      livemode: false,
      pending: [...totals.keys()].map((currency) => ({ amount: 0, currency, source_types: { card: 0 } })),
    };
  }

  // Inspection for tests and tooling; not part of Stripe's API.
  paymentIntent(id: string): PaymentIntent | undefined {
    return this.paymentIntents.get(id);
  }

  paymentIntentsWithMetadata(key: string, value: string): PaymentIntent[] {
    return [...this.paymentIntents.values()].filter((intent) => intent.metadata[key] === value);
  }

  chargesOf(paymentIntentId: string): Charge[] {
    return [...this.charges.values()].filter((charge) => charge.payment_intent === paymentIntentId);
  }

  // Records an event about an object, as Stripe does on every state change.
  emit(type: string, object: PaymentIntent | Charge | Refund, request: RequestContext | null): StripeEvent {
    const event: StripeEvent = {
      id: stripeId("evt"),
      object: "event",
      api_version: this.apiVersion,
      created: unixNow(),
      data: { object: structuredClone(object) },
      livemode: false,
      pending_webhooks: 0,
      request: { id: request?.requestId ?? null, idempotency_key: request?.idempotencyKey ?? null },
      type,
    };
    this.events.push(event);
    this.onEvent(event);
    return event;
  }

  private authorize(intent: PaymentIntent, request: RequestContext): PaymentIntent {
    const charge = this.createCharge(intent);
    if (intent.capture_method === "manual") {
      intent.status = "requires_capture";
      intent.amount_capturable = intent.amount;
      this.emit("payment_intent.amount_capturable_updated", intent, request);
    } else {
      charge.captured = true;
      charge.amount_captured = charge.amount;
      intent.status = "succeeded";
      intent.amount_received = intent.amount;
      this.emit("payment_intent.succeeded", intent, request);
    }
    return intent;
  }

  private createCharge(intent: PaymentIntent, decline?: { declineCode: string; message: string }): Charge {
    const charge: Charge = {
      id: stripeId("ch"),
      object: "charge",
      amount: intent.amount,
      amount_captured: 0,
      amount_refunded: 0,
      captured: false,
      created: unixNow(),
      currency: intent.currency,
      failure_code: decline ? "card_declined" : null,
      failure_message: decline?.message ?? null,
      livemode: false,
      metadata: { ...intent.metadata },
      outcome: decline
        ? {
            network_status: "declined_by_network",
            reason: decline.declineCode,
            seller_message: "The bank did not return any further details with this decline.",
            type: "issuer_declined",
          }
        : {
            network_status: "approved_by_network",
            reason: null,
            seller_message: "Payment complete.",
            type: "authorized",
          },
      paid: !decline,
      payment_intent: intent.id,
      payment_method: intent.payment_method ?? "",
      refunded: false,
      status: decline ? "failed" : "succeeded",
    };
    this.charges.set(charge.id, charge);
    intent.latest_charge = charge.id;
    return charge;
  }

  private chargeOf(intent: PaymentIntent): Charge {
    const charge = intent.latest_charge ? this.charges.get(intent.latest_charge) : undefined;
    if (!charge) throw new Error(`PaymentIntent ${intent.id} has no charge`);
    return charge;
  }
}

function checkAmount(amount: number, currency: string, param: string) {
  if (amount < 1) throw invalidRequest("This value must be greater than or equal to 1.", { param });
  const step = stripeAmountStep(currency);
  if (amount % step !== 0) {
    throw invalidRequest(
      `Invalid amount. Amounts in ${currency.toUpperCase()} must be evenly divisible by ${step}. See https://stripe.com/docs/currencies#special-cases for more information.`,
      { code: "invalid_charge_amount_no_decimal_compatible", param },
    );
  }
}
