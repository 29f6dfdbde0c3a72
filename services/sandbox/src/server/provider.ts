import { createHash, randomBytes } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { postWebhook, type EmulatorReply, type EmulatorRequest, type ProviderEmulator } from "./harness";
import { sandboxMessaging, type SandboxMessaging } from "./messages";
import { sandboxEvent, signSandboxEvent } from "./webhooks";

// OneRouter's own simulated payment provider, which also serves messages
// (see messages.ts). It keeps payments in memory in ISO 4217 minor units
// (amounts travel as decimal strings so they never lose precision), scoped
// by API key: every well-formed key is its own account, created on first
// use, so a new tenant needs no setup. Callers ask for misbehaviour per
// request through headers, so one server can serve many accounts that each
// simulate something different.

// Any `sk_sandbox_` key with at least 16 letters or digits after the prefix.
const apiKeyPattern = /^sk_sandbox_[A-Za-z0-9]{16,}$/;
const currencyPattern = /^[A-Z]{3}$/;
// Positive minor units, small enough for every provider's int64.
const amountPattern = /^[1-9][0-9]{0,17}$/;
const maxAddedLatencyMs = 60_000;
const listLimit = 100;

const behaviourHeaders = {
  // Sleep this many milliseconds before processing.
  addedLatencyMs: "sandbox-added-latency-ms",
  // Process a mutating request, then never answer it.
  simulateTimeout: "sandbox-simulate-timeout",
  // Answer this fraction (0..1) of requests with the not-processed 503.
  failureRate: "sandbox-failure-rate",
} as const;

type TestOutcome =
  | { kind: "approve" }
  | { kind: "decline"; declineCode: string; message: string }
  | { kind: "requires_action" };

const testPaymentMethods: Record<string, TestOutcome> = {
  tok_sandbox_success: { kind: "approve" },
  tok_sandbox_decline: { kind: "decline", declineCode: "generic_decline", message: "The card was declined." },
  tok_sandbox_insufficient_funds: {
    kind: "decline",
    declineCode: "insufficient_funds",
    message: "The card has insufficient funds.",
  },
  tok_sandbox_requires_action: { kind: "requires_action" },
};
const defaultPaymentMethod = "tok_sandbox_success";

type PaymentStatus = "succeeded" | "requires_capture" | "requires_action" | "declined" | "canceled";

interface Payment {
  id: string;
  attemptId?: string;
  amount: bigint;
  currency: string;
  captureMethod: "automatic" | "manual";
  status: PaymentStatus;
  amountCapturable: bigint;
  amountCaptured: bigint;
  amountRefunded: bigint;
  paymentMethod: string;
  failure?: { declineCode: string; message: string };
  // Where the customer completes the action while the payment requires it.
  actionUrl?: string;
  returnUrl?: string;
  webhookUrl?: string;
  description?: string;
  metadata: Record<string, string>;
  customer: Record<string, string>;
  created: number;
}

interface Refund {
  id: string;
  paymentId: string;
  amount: bigint;
  currency: string;
  reason?: string;
  created: number;
}

interface Account {
  apiKey: string;
  payments: Map<string, Payment>;
  idempotency: Map<string, { fingerprint: string; reply: EmulatorReply }>;
}

class SandboxError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface SandboxOptions {
  // Base URL customers' browsers reach the sandbox on, for requires_action
  // redirects; defaults to the Host the API request came in on.
  publicUrl?: string;
}

export function sandboxProvider(options: SandboxOptions = {}): ProviderEmulator & Pick<SandboxMessaging, "messagesForAttempt"> {
  const accounts = new Map<string, Account>();
  // Action token -> the payment waiting for it. The token is the only
  // credential the customer's browser carries.
  const pendingActions = new Map<string, { account: Account; paymentId: string }>();
  const messaging = sandboxMessaging();

  function accountFor(apiKey: string): Account {
    let account = accounts.get(apiKey);
    if (!account) {
      account = { apiKey, payments: new Map(), idempotency: new Map() };
      accounts.set(apiKey, account);
    }
    return account;
  }

  function emit(account: Account, type: string, object: unknown, webhookUrl: string | undefined) {
    if (!webhookUrl) return;
    const { body, headers } = signSandboxEvent(account.apiKey, sandboxEvent(type, object));
    // Delivered once, fire and forget, as hosted providers do: a receiver
    // that misses it can still learn the state by asking.
    postWebhook(webhookUrl, body, headers).catch(() => undefined);
  }

  function findPayment(account: Account, id: string): Payment {
    const payment = account.payments.get(id);
    if (!payment) throw new SandboxError(404, "resource_missing", `No such payment: ${id}`);
    return payment;
  }

  function createPayment(account: Account, body: JsonObject, baseUrl: string): EmulatorReply {
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
        pendingActions.set(token, { account, paymentId: payment.id });
        break;
      }
    }
    account.payments.set(payment.id, payment);
    emit(account, `payment.${payment.status}`, paymentJson(payment), webhookUrl);
    return { status: 200, body: paymentJson(payment) };
  }

  function listPayments(account: Account, query: URLSearchParams): EmulatorReply {
    const attemptId = query.get("attempt_id");
    const matching = [...account.payments.values()]
      .filter((p) => attemptId === null || p.attemptId === attemptId)
      .reverse()
      .slice(0, listLimit);
    return { status: 200, body: { object: "list", data: matching.map(paymentJson) } };
  }

  function capturePayment(account: Account, id: string, body: JsonObject): EmulatorReply {
    const payment = findPayment(account, id);
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
    emit(account, "payment.succeeded", paymentJson(payment), payment.webhookUrl);
    return { status: 200, body: paymentJson(payment) };
  }

  function cancelPayment(account: Account, id: string): EmulatorReply {
    const payment = findPayment(account, id);
    if (payment.status !== "requires_capture" && payment.status !== "requires_action") {
      throw new SandboxError(409, "payment_not_cancelable", `Payment ${id} is ${payment.status} and cannot be canceled`);
    }
    payment.status = "canceled";
    payment.amountCapturable = 0n;
    emit(account, "payment.canceled", paymentJson(payment), payment.webhookUrl);
    return { status: 200, body: paymentJson(payment) };
  }

  function createRefund(account: Account, body: JsonObject): EmulatorReply {
    const paymentId = readString(body, "payment");
    if (!paymentId) throw invalid("payment is required");
    const payment = findPayment(account, paymentId);
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
    emit(account, "refund.succeeded", refundJson(refund), payment.webhookUrl);
    return { status: 200, body: refundJson(refund) };
  }

  // The page a requires_action redirect lands on: visiting it completes the
  // action, then sends the customer back to the merchant when it can.
  function completeAction(token: string): EmulatorReply {
    const pending = pendingActions.get(token);
    if (!pending) return errorReply(404, "invalid_request_error", "resource_missing", "No such action");
    pendingActions.delete(token);
    const payment = findPayment(pending.account, pending.paymentId);
    if (payment.status === "requires_action") {
      authorize(payment);
      emit(pending.account, `payment.${payment.status}`, paymentJson(payment), payment.webhookUrl);
    }
    if (payment.returnUrl) return { status: 302, headers: { location: payment.returnUrl } };
    return { status: 200, body: paymentJson(payment) };
  }

  function route(account: Account, req: EmulatorRequest, baseUrl: string): EmulatorReply {
    try {
      const body = req.method === "POST" ? parseBody(req.rawBody) : {};
      const { method, path } = req;
      const messagesReply = messaging.route(account.apiKey, req, body);
      if (messagesReply) return messagesReply;
      if (path === "/v1/account" && method === "GET") return { status: 200, body: accountJson(account) };
      if (path === "/v1/payments" && method === "POST") return createPayment(account, body, baseUrl);
      if (path === "/v1/payments" && method === "GET") return listPayments(account, req.query);
      if (path === "/v1/refunds" && method === "POST") return createRefund(account, body);
      const payment = /^\/v1\/payments\/([^/]+)$/.exec(path);
      if (payment?.[1] && method === "GET") return { status: 200, body: paymentJson(findPayment(account, payment[1])) };
      const action = /^\/v1\/payments\/([^/]+)\/(capture|cancel)$/.exec(path);
      if (action?.[1] && method === "POST") {
        return action[2] === "capture" ? capturePayment(account, action[1], body) : cancelPayment(account, action[1]);
      }
      return errorReply(404, "invalid_request_error", "unknown_route", `No route for ${method} ${path}`);
    } catch (err) {
      if (err instanceof SandboxError) return errorReply(err.status, "invalid_request_error", err.code, err.message);
      throw err;
    }
  }

  // Stripe's semantics, per account: a replay returns the stored answer; the
  // same key on a different request is refused.
  function idempotent(account: Account, req: EmulatorRequest, run: () => EmulatorReply): EmulatorReply {
    const key = header(req.headers, "idempotency-key");
    if (!key) return run();
    const fingerprint = createHash("sha256").update(`${req.method} ${req.path}\n`).update(req.rawBody).digest("hex");
    const stored = account.idempotency.get(key);
    if (stored) {
      if (stored.fingerprint !== fingerprint) {
        return errorReply(409, "idempotency_error", "idempotency_key_reused", `Idempotency-Key ${key} was used for a different request`);
      }
      return { ...stored.reply, headers: { ...stored.reply.headers, "idempotent-replayed": "true" } };
    }
    const reply = run();
    account.idempotency.set(key, { fingerprint, reply });
    return reply;
  }

  return {
    name: "sandbox",
    messagesForAttempt: messaging.messagesForAttempt,
    async handle(req) {
      const actionPage = /^\/authenticate\/([0-9a-f]+)$/.exec(req.path);
      if (actionPage?.[1] && req.method === "GET") return completeAction(actionPage[1]);

      const apiKey = /^Bearer (.+)$/.exec(header(req.headers, "authorization") ?? "")?.[1];
      if (!apiKey || !apiKeyPattern.test(apiKey)) {
        return errorReply(401, "authentication_error", "invalid_api_key", "Invalid API key; sandbox keys look like sk_sandbox_<16+ letters or digits>");
      }
      let behaviour: Behaviour;
      try {
        behaviour = readBehaviour(req.headers);
      } catch (err) {
        if (err instanceof SandboxError) return errorReply(err.status, "invalid_request_error", err.code, err.message);
        throw err;
      }
      // Math.random() is in [0, 1), so rates 0 and 1 are exact.
      const unavailable = Math.random() < behaviour.failureRate;
      let reply: EmulatorReply;
      if (unavailable) {
        reply = serviceUnavailable();
      } else {
        const account = accountFor(apiKey);
        const baseUrl = options.publicUrl ?? `http://${header(req.headers, "host") ?? "127.0.0.1"}`;
        const run = () => route(account, req, baseUrl);
        reply = req.method === "POST" ? idempotent(account, req, run) : run();
      }
      // A request is processed when it arrives and only its answer is
      // delayed, so asking what became of it always finds it.
      if (behaviour.addedLatencyMs > 0) await new Promise((r) => setTimeout(r, behaviour.addedLatencyMs));
      // The request is processed; the answer is lost. The caller times out
      // and has to ask what happened.
      if (!unavailable && behaviour.simulateTimeout && req.method === "POST") return new Promise<EmulatorReply>(() => {});
      return reply;
    },
    serverError: serviceUnavailable,
    rateLimited() {
      return {
        ...errorReply(429, "rate_limit_error", "rate_limited", "Too many requests; the request was not processed."),
        headers: { "retry-after": "1" },
      };
    },
  };
}

// The sandbox documents its 503 as "not processed": nothing was changed.
function serviceUnavailable(): EmulatorReply {
  return errorReply(503, "api_error", "service_unavailable", "The sandbox is unavailable; the request was not processed.");
}

interface Behaviour {
  addedLatencyMs: number;
  simulateTimeout: boolean;
  failureRate: number;
}

function readBehaviour(headers: IncomingHttpHeaders): Behaviour {
  const latency = header(headers, behaviourHeaders.addedLatencyMs);
  const rate = header(headers, behaviourHeaders.failureRate);
  const addedLatencyMs = latency === undefined ? 0 : Number(latency);
  if (latency !== undefined && (!/^\d+$/.test(latency) || addedLatencyMs > maxAddedLatencyMs)) {
    throw new SandboxError(400, "invalid_sandbox_header", `${behaviourHeaders.addedLatencyMs} must be an integer from 0 to ${maxAddedLatencyMs}`);
  }
  const failureRate = rate === undefined ? 0 : Number(rate);
  if (rate !== undefined && (!/^\d+(\.\d+)?$/.test(rate) || failureRate > 1)) {
    throw new SandboxError(400, "invalid_sandbox_header", `${behaviourHeaders.failureRate} must be a number from 0 to 1`);
  }
  return {
    addedLatencyMs,
    failureRate,
    simulateTimeout: header(headers, behaviourHeaders.simulateTimeout) === "true",
  };
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

function paymentJson(p: Payment) {
  return {
    id: p.id,
    object: "payment",
    attempt_id: p.attemptId ?? null,
    amount: p.amount.toString(),
    currency: p.currency,
    capture_method: p.captureMethod,
    status: p.status,
    amount_capturable: p.amountCapturable.toString(),
    amount_captured: p.amountCaptured.toString(),
    amount_refunded: p.amountRefunded.toString(),
    payment_method: p.paymentMethod,
    failure: p.failure
      ? { code: "card_declined", decline_code: p.failure.declineCode, message: p.failure.message }
      : null,
    next_action: p.status === "requires_action" && p.actionUrl ? { type: "redirect", redirect_url: p.actionUrl } : null,
    return_url: p.returnUrl ?? null,
    description: p.description ?? null,
    metadata: p.metadata,
    customer: p.customer,
    created: p.created,
  };
}

function refundJson(r: Refund) {
  return {
    id: r.id,
    object: "refund",
    payment: r.paymentId,
    amount: r.amount.toString(),
    currency: r.currency,
    status: "succeeded",
    reason: r.reason ?? null,
    created: r.created,
  };
}

function accountJson(account: Account) {
  return {
    id: `acct_sbx_${createHash("sha256").update(account.apiKey).digest("hex").slice(0, 16)}`,
    object: "account",
    livemode: false,
  };
}

function checkCurrency(body: JsonObject, payment: Payment) {
  const currency = readString(body, "currency");
  if (currency !== undefined && currency !== payment.currency) {
    throw new SandboxError(400, "currency_mismatch", `Payment ${payment.id} is in ${payment.currency}, not ${currency}`);
  }
}

type JsonObject = Record<string, unknown>;

function parseBody(raw: Buffer): JsonObject {
  if (raw.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString("utf8"));
  } catch {
    throw invalid("The request body is not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw invalid("The request body must be a JSON object");
  return parsed as JsonObject;
}

function readString(body: JsonObject, name: string): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw invalid(`${name} must be a string`);
  return value;
}

function readAmount(body: JsonObject, name: string): bigint | undefined {
  const value = readString(body, name);
  if (value === undefined) return undefined;
  if (!amountPattern.test(value)) throw invalid(`${name} must be a positive whole number of minor units, as a string`);
  return BigInt(value);
}

function readStringMap(body: JsonObject, name: string): Record<string, string> {
  const value = body[name];
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value) || Object.values(value).some((v) => typeof v !== "string")) {
    throw invalid(`${name} must be an object of strings`);
  }
  return { ...(value as Record<string, string>) };
}

function isHttpUrl(value: string): boolean {
  return URL.canParse(value) && /^https?:$/.test(new URL(value).protocol);
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function invalid(message: string): SandboxError {
  return new SandboxError(400, "invalid_request", message);
}

function errorReply(status: number, type: string, code: string, message: string): EmulatorReply {
  return { status, body: { error: { type, code, message } } };
}

function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString("hex")}`;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
