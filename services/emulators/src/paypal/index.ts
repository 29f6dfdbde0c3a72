import { createHash, generateKeyPairSync, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { postWebhook, type EmulatorReply, type EmulatorRequest, type ProviderEmulator } from "@onerouter/sandbox";
import { selfSignedCertificatePem } from "./certificate";
import {
  fromLowestUnit,
  link,
  paypalDecimals,
  paypalId,
  renderAuthorization,
  renderCapture,
  renderOrder,
  renderRefund,
  supportedCurrencies,
  toLowestUnit,
  type EmulatedAuthorization,
  type EmulatedCapture,
  type EmulatedOrder,
  type EmulatedRefund,
  type Money,
  type ProcessorResponse,
} from "./resources";
import { paypalAuthAlgo, rawMemberText, transmissionSignature, transmissionSignatureValid } from "./signing";

export type { EmulatedAuthorization, EmulatedCapture, EmulatedOrder, EmulatedRefund } from "./resources";

// A local stand-in for PayPal's REST API: OAuth2 client credentials, Orders
// v2, Payments v2 (authorizations, captures, refunds), Transaction Search,
// webhook signature verification and the certificate behind it, with
// PayPal's JSON shapes, error bodies and PayPal-Request-Id idempotency.
// The buyer's approval page is GET /checkoutnow?token=<order id>, which
// approves at once and sends the buyer back to the return URL.

// Vaulted payment method tokens and the processor response each produces.
export const paypalTestTokens = {
  succeed: "tok_paypal_success",
  decline: "tok_paypal_declined",
  insufficientFunds: "tok_paypal_insufficient_funds",
} as const;

const processorResponseCodes: Record<string, string> = {
  [paypalTestTokens.succeed]: "0000",
  [paypalTestTokens.decline]: "0500",
  [paypalTestTokens.insufficientFunds]: "5120",
};

export type PaypalWebhookEventType =
  | "PAYMENT.CAPTURE.COMPLETED"
  | "PAYMENT.CAPTURE.DENIED"
  | "PAYMENT.AUTHORIZATION.CREATED"
  | "PAYMENT.AUTHORIZATION.VOIDED"
  | "PAYMENT.CAPTURE.REFUNDED"
  | "CHECKOUT.ORDER.APPROVED";

export interface PaypalEmulatorOptions {
  clientId?: string;
  clientSecret?: string;
  // When set, every event is posted here, signed for this webhook id.
  webhook?: { url: string; webhookId: string };
}

export interface SignedPaypalWebhook {
  body: string;
  headers: Record<string, string>;
}

export interface PaypalEmulator extends ProviderEmulator {
  readonly clientId: string;
  readonly clientSecret: string;
  // PEM of the certificate served at every paypal-cert-url it signs with.
  readonly certificatePem: string;
  order(orderId: string): EmulatedOrder | undefined;
  ordersWithCustomId(customId: string): EmulatedOrder[];
  accessTokensIssued(): number;
  // Makes PayPal refuse every access token issued so far.
  revokeAccessTokens(): void;
  // The event PayPal would send now about the order's latest capture,
  // authorization, refund or approval; apiUrl is where the emulator listens.
  webhookEvent(eventType: PaypalWebhookEventType, orderId: string, apiUrl: string): object;
  signWebhook(
    event: object,
    options: { apiUrl: string; webhookId: string; transmissionTime?: Date },
  ): SignedPaypalWebhook;
}

const accessTokenLifetimeSeconds = 32_400;
const authorizationLifetimeMs = 29 * 24 * 3600_000;
const maxSearchRangeMs = 31 * 24 * 3600_000;

const errorNames = {
  INVALID_REQUEST: { status: 400, message: "Request is not well-formed, syntactically incorrect, or violates schema." },
  AUTHENTICATION_FAILURE: {
    status: 401,
    message: "Authentication failed due to invalid authentication credentials or a missing Authorization header.",
  },
  RESOURCE_NOT_FOUND: { status: 404, message: "The specified resource does not exist." },
  UNPROCESSABLE_ENTITY: {
    status: 422,
    message: "The requested action could not be performed, semantically incorrect, or failed business validation.",
  },
  RATE_LIMIT_REACHED: { status: 429, message: "Too many requests. Blocked due to rate limiting." },
  INTERNAL_SERVER_ERROR: { status: 500, message: "An internal server error occurred." },
} as const;

type ErrorName = keyof typeof errorNames;

interface ErrorDetail {
  issue: string;
  description: string;
  field?: string;
  location?: "body" | "query" | "header" | "path";
}

function paypalError(name: ErrorName, detail?: ErrorDetail): EmulatorReply {
  const debugId = randomBytes(7).toString("hex").slice(0, 13);
  const { status, message } = errorNames[name];
  const anchor = (detail?.issue ?? name).toLowerCase();
  return {
    status,
    headers: { "paypal-debug-id": debugId },
    body: {
      name,
      message,
      debug_id: debugId,
      details: detail ? [detail] : undefined,
      links: [link(`https://developer.paypal.com/api/rest/reference/orders/v2/errors/#${anchor}`, "information_link")],
    },
  };
}

// Thrown by handlers to answer with a PayPal error.
class PaypalFailure extends Error {
  constructor(readonly reply: EmulatorReply) {
    super(`PayPal error ${reply.status}`);
  }
}

function fail(name: ErrorName, detail?: ErrorDetail): never {
  throw new PaypalFailure(paypalError(name, detail));
}

function header(req: EmulatorRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

// PayPal's timestamps: ISO 8601 in UTC to the second.
function timestamp(date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}

function jsonBody(req: EmulatorRequest): Record<string, unknown> {
  if (req.rawBody.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(req.rawBody.toString("utf8"));
  } catch {
    fail("INVALID_REQUEST", { issue: "MALFORMED_REQUEST_JSON", description: "The request JSON is not well formed.", location: "body" });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    fail("INVALID_REQUEST", { issue: "MALFORMED_REQUEST_JSON", description: "The request JSON is not an object.", location: "body" });
  }
  return parsed as Record<string, unknown>;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function optionalString(value: unknown, field: string, maxLength: number): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") {
    fail("INVALID_REQUEST", { issue: "INVALID_PARAMETER_SYNTAX", description: "The value of a field does not conform to the expected format.", field, location: "body" });
  }
  if (value.length > maxLength) {
    fail("INVALID_REQUEST", { issue: "INVALID_STRING_MAX_LENGTH", description: `The value of a field is too long (max ${maxLength}).`, field, location: "body" });
  }
  return value;
}

function validMoney(value: unknown, field: string): Money {
  const money = asRecord(value);
  const currency = money?.currency_code;
  const amount = money?.value;
  if (typeof currency !== "string" || typeof amount !== "string") {
    fail("INVALID_REQUEST", { issue: "MISSING_REQUIRED_PARAMETER", description: "A required field is missing.", field, location: "body" });
  }
  if (!/^[0-9]{1,29}(\.[0-9]+)?$/.test(amount)) {
    fail("INVALID_REQUEST", { issue: "INVALID_PARAMETER_SYNTAX", description: "The value of a field does not conform to the expected format.", field: `${field}/value`, location: "body" });
  }
  if (!supportedCurrencies.has(currency)) {
    fail("UNPROCESSABLE_ENTITY", { issue: "CURRENCY_NOT_SUPPORTED", description: "Currency code is not currently supported.", field: `${field}/currency_code`, location: "body" });
  }
  const fraction = amount.split(".")[1] ?? "";
  if (fraction.length > 0 && paypalDecimals(currency) === 0) {
    fail("UNPROCESSABLE_ENTITY", { issue: "DECIMALS_NOT_SUPPORTED", description: "Currency does not support decimals.", field: `${field}/value`, location: "body" });
  }
  if (fraction.length > 2) {
    fail("UNPROCESSABLE_ENTITY", { issue: "DECIMAL_PRECISION", description: "If the currency supports decimals, only two decimal place precision is supported.", field: `${field}/value`, location: "body" });
  }
  const validated = { currency_code: currency, value: amount };
  if (toLowestUnit(validated) <= 0n) {
    fail("UNPROCESSABLE_ENTITY", { issue: "CANNOT_BE_ZERO_OR_NEGATIVE", description: "Must be greater than zero.", field: `${field}/value`, location: "body" });
  }
  return validated;
}

function notFound(field: string): never {
  fail("RESOURCE_NOT_FOUND", {
    issue: "INVALID_RESOURCE_ID",
    description: "Specified resource ID does not exist. Please check the resource ID and try again.",
    field,
    location: "path",
  });
}

function unprocessable(issue: string, description: string): never {
  fail("UNPROCESSABLE_ENTITY", { issue, description });
}

// What a state-changing call produced; replays with the same
// PayPal-Request-Id render the resource's latest state again.
interface CallResult {
  kind: "order" | "authorization" | "capture" | "refund";
  id: string;
  // Answers 204 without a body unless the caller asked for a representation.
  emptyWhenMinimal?: boolean;
}

interface TransactionRow {
  info: Record<string, unknown>;
  initiatedAt: number;
  amount: Money;
  balanceAffecting: boolean;
}

export function paypalEmulator(options: PaypalEmulatorOptions = {}): PaypalEmulator {
  const clientId = options.clientId ?? "paypal_emulator_client_id";
  const clientSecret = options.clientSecret ?? "paypal_emulator_client_secret";
  const orders = new Map<string, EmulatedOrder>();
  const authorizations = new Map<string, EmulatedAuthorization>();
  const captures = new Map<string, EmulatedCapture>();
  const refunds = new Map<string, EmulatedRefund>();
  const accessTokens = new Map<string, number>();
  let accessTokensIssued = 0;
  const callResults = new Map<string, CallResult>();
  const signingKeys = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const certId = `CERT-360caa42-fca2a594-${randomBytes(4).toString("hex")}`;
  const certificatePem = selfSignedCertificatePem(
    signingKeys,
    "messageverificationcerts.sandbox.paypal.com",
    randomBytes(16),
  );

  const certUrl = (api: string) => `${api}/v1/notifications/certs/${certId}`;

  function paymentsOf(order: EmulatedOrder) {
    const orderCaptures = order.captureIds.map((id) => captures.get(id)).filter((c) => c !== undefined);
    return {
      authorizations: order.authorizationIds.map((id) => authorizations.get(id)).filter((a) => a !== undefined),
      captures: orderCaptures,
      refunds: orderCaptures.flatMap((c) => c.refundIds.map((id) => refunds.get(id)).filter((r) => r !== undefined)),
    };
  }

  function render(api: string, kind: CallResult["kind"], id: string): Record<string, unknown> {
    switch (kind) {
      case "order": {
        const order = orders.get(id) ?? notFound("order_id");
        return renderOrder(api, order, paymentsOf(order));
      }
      case "authorization":
        return renderAuthorization(api, authorizations.get(id) ?? notFound("authorization_id"));
      case "capture":
        return renderCapture(api, captures.get(id) ?? notFound("capture_id"));
      case "refund":
        return renderRefund(api, refunds.get(id) ?? notFound("refund_id"));
    }
  }

  // --- webhooks -----------------------------------------------------------

  function webhookEvent(eventType: PaypalWebhookEventType, orderId: string, api: string): object {
    const order = orders.get(orderId);
    if (!order) throw new Error(`no PayPal order ${orderId}`);
    const payments = paymentsOf(order);
    let resourceType: string;
    let resource: Record<string, unknown>;
    let summary: string;
    switch (eventType) {
      case "PAYMENT.CAPTURE.COMPLETED":
      case "PAYMENT.CAPTURE.DENIED": {
        const capture = payments.captures.at(-1);
        if (!capture) throw new Error(`PayPal order ${orderId} has no capture`);
        resourceType = "capture";
        resource = renderCapture(api, capture);
        summary = `Payment ${eventType.endsWith("COMPLETED") ? "completed" : "denied"} for ${capture.amount.value} ${capture.amount.currency_code}`;
        break;
      }
      case "PAYMENT.AUTHORIZATION.CREATED":
      case "PAYMENT.AUTHORIZATION.VOIDED": {
        const authorization = payments.authorizations.at(-1);
        if (!authorization) throw new Error(`PayPal order ${orderId} has no authorization`);
        resourceType = "authorization";
        resource = renderAuthorization(api, authorization);
        summary = `Payment ${eventType.endsWith("CREATED") ? "authorized" : "authorization voided"} for ${authorization.amount.value} ${authorization.amount.currency_code}`;
        break;
      }
      case "PAYMENT.CAPTURE.REFUNDED": {
        const refund = payments.refunds.at(-1);
        if (!refund) throw new Error(`PayPal order ${orderId} has no refund`);
        resourceType = "refund";
        resource = renderRefund(api, refund);
        summary = `A ${refund.amount.value} ${refund.amount.currency_code} capture payment was refunded`;
        break;
      }
      case "CHECKOUT.ORDER.APPROVED":
        resourceType = "checkout-order";
        resource = renderOrder(api, order, payments);
        summary = "An order has been approved by buyer";
        break;
    }
    const id = `WH-${paypalId(17)}-${paypalId(17)}`;
    const self = `${api}/v1/notifications/webhooks-events/${id}`;
    return {
      id,
      event_version: "1.0",
      create_time: timestamp(),
      resource_type: resourceType,
      resource_version: "2.0",
      event_type: eventType,
      summary,
      resource,
      links: [link(self, "self"), link(`${self}/resend`, "resend", "POST")],
    };
  }

  function signWebhook(
    event: object,
    signing: { apiUrl: string; webhookId: string; transmissionTime?: Date },
  ): SignedPaypalWebhook {
    const body = JSON.stringify(event);
    const fields = {
      transmissionId: randomUUID(),
      transmissionTime: timestamp(signing.transmissionTime),
      webhookId: signing.webhookId,
    };
    return {
      body,
      headers: {
        "content-type": "application/json",
        "paypal-transmission-id": fields.transmissionId,
        "paypal-transmission-time": fields.transmissionTime,
        "paypal-transmission-sig": transmissionSignature(signingKeys.privateKey, fields, body),
        "paypal-cert-url": certUrl(signing.apiUrl),
        "paypal-auth-algo": paypalAuthAlgo,
        "paypal-auth-version": "v2",
      },
    };
  }

  function emit(api: string, eventType: PaypalWebhookEventType, order: EmulatedOrder) {
    const target = options.webhook;
    if (!target) return;
    const signed = signWebhook(webhookEvent(eventType, order.id, api), { apiUrl: api, webhookId: target.webhookId });
    // Delivery failures are the receiver's problem, as they are with PayPal
    // (which would retry; the emulator sends once).
    void postWebhook(target.url, signed.body, signed.headers).catch(() => undefined);
  }

  // --- money movement -----------------------------------------------------

  function processorResponse(responseCode: string): ProcessorResponse {
    return { avs_code: "Y", cvv_code: "M", response_code: responseCode };
  }

  function responseCodeOf(order: EmulatedOrder): string | undefined {
    return order.card ? (processorResponseCodes[order.card.vaultId] ?? "0000") : undefined;
  }

  function capture(
    api: string,
    order: EmulatedOrder,
    amount: Money,
    finalCapture: boolean,
    authorizationId?: string,
  ): EmulatedCapture {
    const responseCode = responseCodeOf(order);
    const declined = authorizationId === undefined && responseCode !== undefined && responseCode !== "0000";
    const now = timestamp();
    const created: EmulatedCapture = {
      id: paypalId(),
      orderId: order.id,
      authorizationId,
      status: declined ? "DECLINED" : "COMPLETED",
      amount,
      finalCapture,
      customId: order.purchaseUnit.custom_id,
      invoiceId: order.purchaseUnit.invoice_id,
      processorResponse: responseCode === undefined ? undefined : processorResponse(declined ? responseCode : "0000"),
      refundIds: [],
      createTime: now,
      updateTime: now,
    };
    captures.set(created.id, created);
    order.captureIds.push(created.id);
    order.updateTime = now;
    emit(api, declined ? "PAYMENT.CAPTURE.DENIED" : "PAYMENT.CAPTURE.COMPLETED", order);
    return created;
  }

  function authorize(api: string, order: EmulatedOrder): EmulatedAuthorization {
    const responseCode = responseCodeOf(order);
    const denied = responseCode !== undefined && responseCode !== "0000";
    const now = new Date();
    const created: EmulatedAuthorization = {
      id: paypalId(),
      orderId: order.id,
      status: denied ? "DENIED" : "CREATED",
      amount: order.purchaseUnit.amount,
      customId: order.purchaseUnit.custom_id,
      invoiceId: order.purchaseUnit.invoice_id,
      processorResponse: responseCode === undefined ? undefined : processorResponse(responseCode),
      captureIds: [],
      createTime: timestamp(now),
      updateTime: timestamp(now),
      expirationTime: timestamp(new Date(now.getTime() + authorizationLifetimeMs)),
    };
    authorizations.set(created.id, created);
    order.authorizationIds.push(created.id);
    order.updateTime = created.createTime;
    if (!denied) emit(api, "PAYMENT.AUTHORIZATION.CREATED", order);
    return created;
  }

  // --- handlers -------------------------------------------------------------

  function issueAccessToken(req: EmulatorRequest): EmulatorReply {
    const [scheme, encoded] = (header(req, "authorization") ?? "").split(" ");
    const decoded = scheme?.toLowerCase() === "basic" && encoded ? Buffer.from(encoded, "base64").toString("utf8") : "";
    const separator = decoded.indexOf(":");
    if (
      separator < 0 ||
      !sameSecret(decoded.slice(0, separator), clientId) ||
      !sameSecret(decoded.slice(separator + 1), clientSecret)
    ) {
      return { status: 401, body: { error: "invalid_client", error_description: "Client Authentication failed" } };
    }
    const grantType = new URLSearchParams(req.rawBody.toString("utf8")).get("grant_type");
    if (grantType !== "client_credentials") {
      return {
        status: 400,
        body: { error: "unsupported_grant_type", error_description: grantType ? "unsupported grant_type" : "Grant Type is NULL" },
      };
    }
    const token = `A21AA${randomBytes(48).toString("base64url")}`;
    accessTokens.set(token, Date.now() + accessTokenLifetimeSeconds * 1000);
    accessTokensIssued += 1;
    return {
      status: 200,
      body: {
        scope:
          "https://uri.paypal.com/services/payments/payment/authcapture https://uri.paypal.com/services/payments/refund " +
          "https://uri.paypal.com/services/reporting/search/read https://uri.paypal.com/services/applications/webhooks",
        access_token: token,
        token_type: "Bearer",
        app_id: "APP-80W284485P519543T",
        expires_in: accessTokenLifetimeSeconds,
        nonce: `${timestamp()}${randomBytes(16).toString("base64url")}`,
      },
    };
  }

  function authenticate(req: EmulatorRequest) {
    const authorization = header(req, "authorization");
    const token = authorization?.startsWith("Bearer ") ? authorization.slice("Bearer ".length) : undefined;
    const expiresAt = token === undefined ? undefined : accessTokens.get(token);
    if (expiresAt !== undefined && expiresAt > Date.now()) return;
    if (req.path.startsWith("/v1/")) {
      throw new PaypalFailure({
        status: 401,
        body: { error: "invalid_token", error_description: "Token signature verification failed" },
      });
    }
    fail("AUTHENTICATION_FAILURE");
  }

  function createOrder(api: string, req: EmulatorRequest): CallResult {
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
    if (invoiceId !== undefined && [...orders.values()].some((o) => o.purchaseUnit.invoice_id === invoiceId)) {
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
    orders.set(order.id, order);
    if (vaultId !== undefined) {
      if (intent === "CAPTURE") capture(api, order, purchaseUnit.amount, true);
      else authorize(api, order);
    }
    return { kind: "order", id: order.id };
  }

  function findOrder(orderId: string): EmulatedOrder {
    return orders.get(orderId) ?? notFound("order_id");
  }

  function captureOrder(api: string, orderId: string): CallResult {
    const order = findOrder(orderId);
    if (order.intent !== "CAPTURE") unprocessable("ACTION_DOES_NOT_MATCH_INTENT", "Order was created with an intent to 'AUTHORIZE'. Please use authorize or change the intent.");
    if (order.status === "COMPLETED") unprocessable("ORDER_ALREADY_CAPTURED", "Order already captured. If 'intent=CAPTURE' only one capture per order is allowed.");
    if (order.status !== "APPROVED") unprocessable("ORDER_NOT_APPROVED", "Payer has not yet approved the Order for payment.");
    order.status = "COMPLETED";
    capture(api, order, order.purchaseUnit.amount, true);
    return { kind: "order", id: order.id };
  }

  function authorizeOrder(api: string, orderId: string): CallResult {
    const order = findOrder(orderId);
    if (order.intent !== "AUTHORIZE") unprocessable("ACTION_DOES_NOT_MATCH_INTENT", "Order was created with an intent to 'CAPTURE'. Please use capture or change the intent.");
    if (order.status === "COMPLETED") unprocessable("ORDER_ALREADY_AUTHORIZED", "Order already authorized. If 'intent=AUTHORIZE' only one authorization per order is allowed.");
    if (order.status !== "APPROVED") unprocessable("ORDER_NOT_APPROVED", "Payer has not yet approved the Order for payment.");
    order.status = "COMPLETED";
    authorize(api, order);
    return { kind: "order", id: order.id };
  }

  function settledUnits(moneys: Money[]): bigint {
    return moneys.reduce((sum, m) => sum + toLowestUnit(m), 0n);
  }

  function captureAuthorization(api: string, req: EmulatorRequest, authorizationId: string): CallResult {
    const authorization = authorizations.get(authorizationId) ?? notFound("authorization_id");
    const body = jsonBody(req);
    switch (authorization.status) {
      case "VOIDED":
        unprocessable("AUTHORIZATION_VOIDED", "A voided authorization cannot be captured or reauthorized.");
      case "DENIED":
        unprocessable("AUTHORIZATION_DENIED", "A denied authorization cannot be captured.");
      case "CAPTURED":
        unprocessable("AUTHORIZATION_ALREADY_CAPTURED", "Authorization has already been captured.");
    }
    const captured = settledUnits(authorization.captureIds.map((id) => captures.get(id)?.amount).filter((m) => m !== undefined));
    const remaining = toLowestUnit(authorization.amount) - captured;
    const amount = body.amount === undefined ? fromLowestUnit(remaining, authorization.amount.currency_code) : validMoney(body.amount, "/amount");
    if (amount.currency_code !== authorization.amount.currency_code) {
      unprocessable("CURRENCY_MISMATCH", "Currency of capture must be the same as currency of authorization.");
    }
    if (toLowestUnit(amount) > remaining) {
      unprocessable("MAX_CAPTURE_AMOUNT_EXCEEDED", "Capture amount exceeds allowable limit.");
    }
    const finalCapture = body.final_capture === true;
    const order = findOrder(authorization.orderId);
    const created = capture(api, order, amount, finalCapture, authorization.id);
    authorization.captureIds.push(created.id);
    authorization.status = finalCapture || toLowestUnit(amount) === remaining ? "CAPTURED" : "PARTIALLY_CAPTURED";
    authorization.updateTime = created.createTime;
    return { kind: "capture", id: created.id };
  }

  function voidAuthorization(api: string, authorizationId: string): CallResult {
    const authorization = authorizations.get(authorizationId) ?? notFound("authorization_id");
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
    emit(api, "PAYMENT.AUTHORIZATION.VOIDED", findOrder(authorization.orderId));
    return { kind: "authorization", id: authorization.id, emptyWhenMinimal: true };
  }

  function refundCapture(api: string, req: EmulatorRequest, captureId: string): CallResult {
    const refunded = captures.get(captureId) ?? notFound("capture_id");
    const body = jsonBody(req);
    if (refunded.status === "REFUNDED") unprocessable("CAPTURE_FULLY_REFUNDED", "The capture has already been fully refunded.");
    if (refunded.status === "DECLINED") unprocessable("REFUND_NOT_ALLOWED", "A declined capture cannot be refunded.");
    const previous = settledUnits(refunded.refundIds.map((id) => refunds.get(id)?.amount).filter((m) => m !== undefined));
    const remaining = toLowestUnit(refunded.amount) - previous;
    const amount = body.amount === undefined ? fromLowestUnit(remaining, refunded.amount.currency_code) : validMoney(body.amount, "/amount");
    if (amount.currency_code !== refunded.amount.currency_code) {
      unprocessable("CURRENCY_MISMATCH", "Refund must be in the same currency as the capture.");
    }
    if (toLowestUnit(amount) > remaining) {
      unprocessable("REFUND_AMOUNT_EXCEEDED", "The refund amount must be less than or equal to the capture amount that has not yet been refunded.");
    }
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
    refunds.set(refund.id, refund);
    refunded.refundIds.push(refund.id);
    refunded.status = toLowestUnit(amount) === remaining ? "REFUNDED" : "PARTIALLY_REFUNDED";
    refunded.updateTime = now;
    emit(api, "PAYMENT.CAPTURE.REFUNDED", findOrder(refunded.orderId));
    return { kind: "refund", id: refund.id };
  }

  // The buyer's side: stands in for PayPal's hosted approval page.
  function approveOrder(api: string, req: EmulatorRequest): EmulatorReply {
    const order = orders.get(req.query.get("token") ?? "") ?? notFound("token");
    if (order.status === "CREATED" || order.status === "PAYER_ACTION_REQUIRED") {
      order.status = "APPROVED";
      order.payer = {
        payer_id: paypalId(13),
        email_address: order.paypal?.emailAddress ?? "buyer@example.com",
        name: { given_name: "Emulated", surname: "Buyer" },
      };
      order.updateTime = timestamp();
      emit(api, "CHECKOUT.ORDER.APPROVED", order);
    }
    const returnUrl = order.paypal?.returnUrl;
    if (!returnUrl) return { status: 200, body: { id: order.id, status: order.status } };
    const back = new URL(returnUrl);
    back.searchParams.set("token", order.id);
    if (order.payer) back.searchParams.set("PayerID", order.payer.payer_id);
    return { status: 302, headers: { location: back.toString() } };
  }

  function transactionRows(): TransactionRow[] {
    const rows: TransactionRow[] = [];
    const statusCode = { COMPLETED: "S", DECLINED: "D", PARTIALLY_REFUNDED: "F", REFUNDED: "V" } as const;
    for (const c of captures.values()) {
      rows.push({
        info: {
          transaction_id: c.id,
          transaction_event_code: "T0006",
          transaction_initiation_date: c.createTime,
          transaction_updated_date: c.updateTime,
          transaction_amount: c.amount,
          transaction_status: statusCode[c.status],
          invoice_id: c.invoiceId,
          custom_field: c.customId,
          protection_eligibility: "02",
        },
        initiatedAt: Date.parse(c.createTime),
        amount: c.amount,
        balanceAffecting: c.status !== "DECLINED",
      });
    }
    for (const a of authorizations.values()) {
      rows.push({
        info: {
          transaction_id: a.id,
          transaction_event_code: "T1300",
          transaction_initiation_date: a.createTime,
          transaction_updated_date: a.updateTime,
          transaction_amount: a.amount,
          transaction_status: a.status === "DENIED" ? "D" : a.status === "VOIDED" ? "V" : "S",
          invoice_id: a.invoiceId,
          custom_field: a.customId,
        },
        initiatedAt: Date.parse(a.createTime),
        amount: a.amount,
        balanceAffecting: false,
      });
    }
    for (const r of refunds.values()) {
      const amount = fromLowestUnit(-toLowestUnit(r.amount), r.amount.currency_code);
      rows.push({
        info: {
          transaction_id: r.id,
          paypal_reference_id: r.captureId,
          paypal_reference_id_type: "TXN",
          transaction_event_code: "T1107",
          transaction_initiation_date: r.createTime,
          transaction_updated_date: r.updateTime,
          transaction_amount: amount,
          transaction_status: "S",
          custom_field: r.customId,
        },
        initiatedAt: Date.parse(r.createTime),
        amount,
        balanceAffecting: true,
      });
    }
    return rows.sort((x, y) => x.initiatedAt - y.initiatedAt);
  }

  function searchTransactions(api: string, req: EmulatorRequest): EmulatorReply {
    const query = req.query;
    const range: number[] = [];
    for (const name of ["start_date", "end_date"]) {
      const value = query.get(name);
      if (!value) {
        fail("INVALID_REQUEST", { issue: "MISSING_REQUIRED_PARAMETER", description: `${name} is required.`, field: name, location: "query" });
      }
      const time = Date.parse(value);
      if (!Number.isFinite(time)) {
        fail("INVALID_REQUEST", { issue: "INVALID_PARAMETER_SYNTAX", description: `${name} is not an Internet date and time.`, field: name, location: "query" });
      }
      range.push(time);
    }
    const [start = 0, end = 0] = range;
    if (end < start || end - start > maxSearchRangeMs) {
      fail("INVALID_REQUEST", { issue: "INVALID_DATE_RANGE", description: "The date range must be at most 31 days.", field: "end_date", location: "query" });
    }
    // transaction_amount is "[<low> TO <high>]" in the currency's lowest denomination.
    const amountRange = /^\[\s*(-?\d+)\s+TO\s+(-?\d+)\s*\]$/.exec(query.get("transaction_amount") ?? "");
    if (query.has("transaction_amount") && !amountRange) {
      fail("INVALID_REQUEST", { issue: "INVALID_PARAMETER_SYNTAX", description: "transaction_amount must be [<start> TO <end>].", field: "transaction_amount", location: "query" });
    }
    const currency = query.get("transaction_currency");
    const transactionId = query.get("transaction_id");
    const balanceOnly = (query.get("balance_affecting_records_only") ?? "Y") === "Y";
    const matching = transactionRows().filter((row) => {
      if (row.initiatedAt < start || row.initiatedAt > end) return false;
      if (balanceOnly && !row.balanceAffecting) return false;
      if (currency && row.amount.currency_code !== currency) return false;
      if (transactionId && row.info.transaction_id !== transactionId) return false;
      if (amountRange) {
        const units = toLowestUnit(row.amount);
        if (units < BigInt(amountRange[1] ?? "0") || units > BigInt(amountRange[2] ?? "0")) return false;
      }
      return true;
    });
    const pageSize = Math.min(Math.max(Number(query.get("page_size") ?? 100) || 100, 1), 500);
    const page = Math.max(Number(query.get("page") ?? 1) || 1, 1);
    const totalPages = Math.max(1, Math.ceil(matching.length / pageSize));
    return {
      status: 200,
      body: {
        transaction_details: matching.slice((page - 1) * pageSize, page * pageSize).map((row) => ({ transaction_info: row.info })),
        account_number: "EMULATEDMERCHANT",
        start_date: timestamp(new Date(start)),
        end_date: timestamp(new Date(end)),
        last_refreshed_datetime: timestamp(),
        page,
        total_items: matching.length,
        total_pages: totalPages,
        links: [link(`${api}${req.path}?${query.toString()}`, "self")],
      },
    };
  }

  function verifyWebhookSignature(req: EmulatorRequest): EmulatorReply {
    const text = req.rawBody.toString("utf8");
    const body = jsonBody(req);
    for (const field of ["auth_algo", "cert_url", "transmission_id", "transmission_sig", "transmission_time", "webhook_id"]) {
      if (typeof body[field] !== "string") {
        fail("INVALID_REQUEST", { issue: "MISSING_REQUIRED_PARAMETER", description: "A required field is missing.", field: `/${field}`, location: "body" });
      }
    }
    const eventText = rawMemberText(text, "webhook_event");
    if (!asRecord(body.webhook_event) || eventText === undefined) {
      fail("INVALID_REQUEST", { issue: "MISSING_REQUIRED_PARAMETER", description: "A required field is missing.", field: "/webhook_event", location: "body" });
    }
    const certPath = URL.canParse(body.cert_url as string) ? new URL(body.cert_url as string).pathname : undefined;
    let verified = false;
    if (body.auth_algo === paypalAuthAlgo && certPath === `/v1/notifications/certs/${certId}`) {
      try {
        verified = transmissionSignatureValid(
          signingKeys.publicKey,
          {
            transmissionId: body.transmission_id as string,
            transmissionTime: body.transmission_time as string,
            webhookId: body.webhook_id as string,
          },
          eventText,
          body.transmission_sig as string,
        );
      } catch {
        verified = false;
      }
    }
    return { status: 200, body: { verification_status: verified ? "SUCCESS" : "FAILURE" } };
  }

  // Runs a state-changing call once per PayPal-Request-Id; a repeat answers
  // 200 with the latest state of what the first call produced.
  function idempotent(api: string, req: EmulatorRequest, call: () => CallResult, createdStatus: number): EmulatorReply {
    const requestId = header(req, "paypal-request-id");
    const key = requestId === undefined ? undefined : `${req.path}\n${requestId}`;
    const previous = key === undefined ? undefined : callResults.get(key);
    const result = previous ?? call();
    if (key !== undefined && !previous) callResults.set(key, result);
    const representation = /return=representation/.test(header(req, "prefer") ?? "");
    const status = previous ? 200 : createdStatus;
    if (representation) return { status, body: render(api, result.kind, result.id) };
    if (result.emptyWhenMinimal) return { status: 204 };
    const full = render(api, result.kind, result.id);
    return { status, body: { id: full.id, status: full.status, links: full.links } };
  }

  type Route = [method: string, pattern: RegExp, handler: (api: string, req: EmulatorRequest, id: string) => EmulatorReply];
  const ok = (body: unknown): EmulatorReply => ({ status: 200, body });
  const routes: Route[] = [
    ["POST", /^\/v1\/notifications\/verify-webhook-signature$/, (_api, req) => verifyWebhookSignature(req)],
    ["GET", /^\/v1\/reporting\/transactions$/, (api, req) => searchTransactions(api, req)],
    ["POST", /^\/v2\/checkout\/orders$/, (api, req) => idempotent(api, req, () => createOrder(api, req), 201)],
    ["GET", /^\/v2\/checkout\/orders\/([^/]+)$/, (api, _req, id) => ok(render(api, "order", id))],
    ["POST", /^\/v2\/checkout\/orders\/([^/]+)\/capture$/, (api, req, id) => idempotent(api, req, () => captureOrder(api, id), 201)],
    ["POST", /^\/v2\/checkout\/orders\/([^/]+)\/authorize$/, (api, req, id) => idempotent(api, req, () => authorizeOrder(api, id), 201)],
    ["GET", /^\/v2\/payments\/authorizations\/([^/]+)$/, (api, _req, id) => ok(render(api, "authorization", id))],
    ["POST", /^\/v2\/payments\/authorizations\/([^/]+)\/capture$/, (api, req, id) => idempotent(api, req, () => captureAuthorization(api, req, id), 201)],
    ["POST", /^\/v2\/payments\/authorizations\/([^/]+)\/void$/, (api, req, id) => idempotent(api, req, () => voidAuthorization(api, id), 200)],
    ["GET", /^\/v2\/payments\/captures\/([^/]+)$/, (api, _req, id) => ok(render(api, "capture", id))],
    ["POST", /^\/v2\/payments\/captures\/([^/]+)\/refund$/, (api, req, id) => idempotent(api, req, () => refundCapture(api, req, id), 201)],
    ["GET", /^\/v2\/payments\/refunds\/([^/]+)$/, (api, _req, id) => ok(render(api, "refund", id))],
  ];

  function route(req: EmulatorRequest): EmulatorReply {
    // Links, certificate URLs and webhooks name the emulator the way the caller reached it.
    const api = `http://${header(req, "host") ?? "127.0.0.1"}`;
    if (req.method === "POST" && req.path === "/v1/oauth2/token") return issueAccessToken(req);
    if (req.method === "GET" && req.path === `/v1/notifications/certs/${certId}`) {
      return { status: 200, headers: { "content-type": "application/x-pem-file" }, body: certificatePem };
    }
    if (req.method === "GET" && req.path === "/checkoutnow") return approveOrder(api, req);
    authenticate(req);
    for (const [method, pattern, handler] of routes) {
      const match = req.method === method ? pattern.exec(req.path) : null;
      if (match) return handler(api, req, decodeURIComponent(match[1] ?? ""));
    }
    fail("RESOURCE_NOT_FOUND", { issue: "INVALID_RESOURCE_ID", description: "The requested resource does not exist.", location: "path" });
  }

  return {
    name: "paypal",
    clientId,
    clientSecret,
    certificatePem,
    handle(req) {
      try {
        return route(req);
      } catch (err) {
        if (err instanceof PaypalFailure) return err.reply;
        throw err;
      }
    },
    serverError: () => paypalError("INTERNAL_SERVER_ERROR"),
    rateLimited: () => paypalError("RATE_LIMIT_REACHED"),
    order: (orderId) => orders.get(orderId),
    ordersWithCustomId: (customId) => [...orders.values()].filter((o) => o.purchaseUnit.custom_id === customId),
    accessTokensIssued: () => accessTokensIssued,
    revokeAccessTokens: () => accessTokens.clear(),
    webhookEvent,
    signWebhook,
  };
}
