import { randomBytes } from "node:crypto";

// The emulator's in-memory PayPal resources and how PayPal renders them on
// the wire (Orders v2 and Payments v2 JSON, with HATEOAS links).

export type PaypalWebhookEventType =
  | "PAYMENT.CAPTURE.COMPLETED"
  | "PAYMENT.CAPTURE.DENIED"
  | "PAYMENT.AUTHORIZATION.CREATED"
  | "PAYMENT.AUTHORIZATION.VOIDED"
  | "PAYMENT.CAPTURE.REFUNDED"
  | "CHECKOUT.ORDER.APPROVED";

export interface Money {
  currency_code: string;
  value: string;
}

export interface ProcessorResponse {
  avs_code: string;
  cvv_code: string;
  response_code: string;
}

export interface Payer {
  payer_id: string;
  email_address: string;
  name: { given_name: string; surname: string };
}

export interface EmulatedOrder {
  id: string;
  intent: "CAPTURE" | "AUTHORIZE";
  status: "CREATED" | "PAYER_ACTION_REQUIRED" | "APPROVED" | "COMPLETED";
  purchaseUnit: {
    reference_id?: string;
    custom_id?: string;
    invoice_id?: string;
    description?: string;
    amount: Money;
  };
  // The vaulted card, or the buyer's PayPal account once approved.
  card?: { vaultId: string };
  paypal?: { emailAddress?: string; returnUrl?: string; cancelUrl?: string };
  payer?: Payer;
  authorizationIds: string[];
  captureIds: string[];
  createTime: string;
  updateTime: string;
}

export interface EmulatedAuthorization {
  id: string;
  orderId: string;
  status: "CREATED" | "CAPTURED" | "DENIED" | "PARTIALLY_CAPTURED" | "VOIDED";
  amount: Money;
  customId?: string;
  invoiceId?: string;
  processorResponse?: ProcessorResponse;
  captureIds: string[];
  createTime: string;
  updateTime: string;
  expirationTime: string;
}

export interface EmulatedCapture {
  id: string;
  orderId: string;
  authorizationId?: string;
  status: "COMPLETED" | "DECLINED" | "PARTIALLY_REFUNDED" | "REFUNDED";
  amount: Money;
  finalCapture: boolean;
  customId?: string;
  invoiceId?: string;
  processorResponse?: ProcessorResponse;
  refundIds: string[];
  createTime: string;
  updateTime: string;
}

export interface EmulatedRefund {
  id: string;
  captureId: string;
  status: "COMPLETED";
  amount: Money;
  customId?: string;
  noteToPayer?: string;
  createTime: string;
  updateTime: string;
}

// Currencies PayPal accepts from a US merchant account; HUF, JPY and TWD
// without decimals.
export const supportedCurrencies = new Set([
  "AUD", "CAD", "CHF", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "ILS", "JPY",
  "MXN", "NOK", "NZD", "PHP", "PLN", "SEK", "SGD", "THB", "TWD", "USD",
]);
const wholeUnitCurrencies = new Set(["HUF", "JPY", "TWD"]);

export function paypalDecimals(currency: string): number {
  return wholeUnitCurrencies.has(currency) ? 0 : 2;
}

// PayPal's decimal value -> integer count of the currency's smallest unit
// as PayPal writes it (cents; whole yen).
export function toLowestUnit(money: Money): bigint {
  const decimals = paypalDecimals(money.currency_code);
  const [whole = "0", fraction = ""] = money.value.replace(/^-/, "").split(".");
  const units = BigInt(whole + fraction.padEnd(decimals, "0"));
  return money.value.startsWith("-") ? -units : units;
}

export function fromLowestUnit(units: bigint, currency: string): Money {
  const decimals = paypalDecimals(currency);
  if (decimals === 0) return { currency_code: currency, value: units.toString() };
  const digits = (units < 0n ? -units : units).toString().padStart(decimals + 1, "0");
  const value = `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
  return { currency_code: currency, value: units < 0n ? `-${value}` : value };
}

const idAlphabet = "0123456789ABCDEFGHJKLMNPRSTUVWXY";

// PayPal resource ids: 17 upper-case alphanumerics, e.g. 5O190127TN364715T.
export function paypalId(length = 17): string {
  return Array.from(randomBytes(length), (b) => idAlphabet[b % idAlphabet.length]).join("");
}

export function link(href: string, rel: string, method = "GET") {
  return { href, rel, method };
}

export function renderAuthorization(api: string, a: EmulatedAuthorization) {
  const self = `${api}/v2/payments/authorizations/${a.id}`;
  return {
    id: a.id,
    status: a.status,
    amount: a.amount,
    custom_id: a.customId,
    invoice_id: a.invoiceId,
    seller_protection: { status: "NOT_ELIGIBLE" },
    processor_response: a.processorResponse,
    expiration_time: a.expirationTime,
    supplementary_data: { related_ids: { order_id: a.orderId } },
    links: [
      link(self, "self"),
      link(`${self}/capture`, "capture", "POST"),
      link(`${self}/void`, "void", "POST"),
      link(`${self}/reauthorize`, "reauthorize", "POST"),
      link(`${api}/v2/checkout/orders/${a.orderId}`, "up"),
    ],
    create_time: a.createTime,
    update_time: a.updateTime,
  };
}

export function renderCapture(api: string, c: EmulatedCapture) {
  const self = `${api}/v2/payments/captures/${c.id}`;
  const up = c.authorizationId
    ? `${api}/v2/payments/authorizations/${c.authorizationId}`
    : `${api}/v2/checkout/orders/${c.orderId}`;
  return {
    id: c.id,
    status: c.status,
    amount: c.amount,
    final_capture: c.finalCapture,
    custom_id: c.customId,
    invoice_id: c.invoiceId,
    seller_protection: { status: "NOT_ELIGIBLE" },
    processor_response: c.processorResponse,
    supplementary_data: { related_ids: { order_id: c.orderId, authorization_id: c.authorizationId } },
    links: [link(self, "self"), link(`${self}/refund`, "refund", "POST"), link(up, "up")],
    create_time: c.createTime,
    update_time: c.updateTime,
  };
}

export function renderRefund(api: string, r: EmulatedRefund) {
  return {
    id: r.id,
    status: r.status,
    amount: r.amount,
    custom_id: r.customId,
    note_to_payer: r.noteToPayer,
    links: [link(`${api}/v2/payments/refunds/${r.id}`, "self"), link(`${api}/v2/payments/captures/${r.captureId}`, "up")],
    create_time: r.createTime,
    update_time: r.updateTime,
  };
}

function orderLinks(api: string, order: EmulatedOrder) {
  const self = `${api}/v2/checkout/orders/${order.id}`;
  const links = [link(self, "self")];
  if (order.status === "CREATED") links.push(link(`${api}/checkoutnow?token=${order.id}`, "approve"));
  if (order.status === "PAYER_ACTION_REQUIRED") links.push(link(`${api}/checkoutnow?token=${order.id}`, "payer-action"));
  if (order.status !== "COMPLETED") {
    links.push(link(self, "update", "PATCH"));
    const action = order.intent === "CAPTURE" ? "capture" : "authorize";
    links.push(link(`${self}/${action}`, action, "POST"));
  }
  return links;
}

export interface OrderPayments {
  authorizations: EmulatedAuthorization[];
  captures: EmulatedCapture[];
  refunds: EmulatedRefund[];
}

export function renderOrder(api: string, order: EmulatedOrder, payments: OrderPayments) {
  const paymentSource = order.card
    ? { card: { last_digits: "1111", brand: "VISA", type: "CREDIT" } }
    : order.payer
      ? { paypal: { email_address: order.payer.email_address, account_id: order.payer.payer_id, name: order.payer.name } }
      : undefined;
  const hasPayments = payments.authorizations.length + payments.captures.length > 0;
  return {
    id: order.id,
    intent: order.intent,
    status: order.status,
    payment_source: paymentSource,
    purchase_units: [
      {
        ...order.purchaseUnit,
        payee: { merchant_id: "EMULATEDMERCHANT", email_address: "merchant@example.com" },
        payments: hasPayments
          ? {
              authorizations: payments.authorizations.length
                ? payments.authorizations.map((a) => renderAuthorization(api, a))
                : undefined,
              captures: payments.captures.length ? payments.captures.map((c) => renderCapture(api, c)) : undefined,
              refunds: payments.refunds.length ? payments.refunds.map((r) => renderRefund(api, r)) : undefined,
            }
          : undefined,
      },
    ],
    payer: order.payer,
    create_time: order.createTime,
    update_time: order.updateTime,
    links: orderLinks(api, order),
  };
}

// PayPal's timestamps: ISO 8601 in UTC to the second.
export function timestamp(date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
