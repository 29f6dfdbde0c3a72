import { postWebhook, type EmulatorReply, type EmulatorRequest, type ProviderEmulator } from "@onerouter/sandbox";
import { StripeAccount, type RequestContext } from "./account";
import { formatStripeAmount } from "./currency";
import { StripeApiError, invalidRequest } from "./errors";
import { parseStripeParams, type StripeParam, type StripeParams } from "./form";
import { stripeId, unixNow, type StripeEvent } from "./objects";
import { rejectUnknown } from "./params";
import { signStripePayload } from "./signature";
import { headerValue } from "../http";

export type { StripeAccount } from "./account";
export { signStripePayload } from "./signature";
export type { Charge, PaymentIntent, Refund, StripeEvent } from "./objects";

export interface StripeEmulatorOptions {
  // The account's secret key (sk_test_...); any other key gets Stripe's 401.
  secretKey: string;
  // The webhook endpoint's signing secret (whsec_...).
  webhookSecret: string;
  // When set, every event is POSTed here with a Stripe-Signature header, as
  // Stripe delivers to a webhook endpoint (once, without Stripe's retries).
  webhookUrl?: string;
}

export interface SignedStripeWebhook {
  event: StripeEvent;
  // The exact body Stripe would send, and its Stripe-Signature header.
  payload: string;
  signature: string;
}

export interface StripeEmulator extends ProviderEmulator {
  readonly account: StripeAccount;
  // The PaymentIntent's amount as Stripe reads it, as a major-unit decimal string.
  paymentIntentAmount(id: string): string | undefined;
  // Records a new event about a PaymentIntent (like `stripe trigger`) and
  // returns it signed; signedAt (unix seconds) defaults to now.
  signedPaymentIntentEvent(id: string, options?: { type?: string; signedAt?: number }): SignedStripeWebhook;
}

// The API version the account reports on its events: the one the current SDK pins.
const accountApiVersion = "2026-10-28.endive";
// Stripe keeps idempotent results for at least 24 hours.
const idempotencyWindowMs = 24 * 60 * 60 * 1000;

interface SavedResult {
  fingerprint: string;
  requestId: string;
  reply: EmulatorReply;
  savedAt: number;
}

export function stripeEmulator(options: StripeEmulatorOptions): StripeEmulator {
  const account = new StripeAccount(accountApiVersion, deliver);
  const savedResults = new Map<string, SavedResult>();

  function deliver(event: StripeEvent) {
    if (!options.webhookUrl) return;
    event.pending_webhooks = 1;
    const payload = JSON.stringify(event, null, 2);
    const signature = signStripePayload(payload, options.webhookSecret, unixNow());
    postWebhook(options.webhookUrl, payload, {
      "stripe-signature": signature,
      "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    }).then(
      (status) => {
        if (status >= 200 && status < 300) event.pending_webhooks = 0;
      },
      // An unreachable endpoint leaves the event pending, as at Stripe.
      () => undefined,
    );
  }

  function handle(req: EmulatorRequest): EmulatorReply {
    const request: RequestContext = {
      requestId: stripeId("req", 14),
      idempotencyKey: null,
      origin: `http://${req.headers.host ?? "127.0.0.1"}`,
    };
    const replyHeaders = {
      "request-id": request.requestId,
      "stripe-version": headerValue(req.headers["stripe-version"]) ?? accountApiVersion,
    };
    const authentication = /^\/_emulator\/3ds\/([^/]+)$/.exec(req.path);
    if (authentication && req.method === "GET") {
      return answer(() => authenticationPage(authentication[1] as string, req.query, request));
    }

    const rejection = checkApiKey(headerValue(req.headers.authorization), options.secretKey);
    if (rejection) return withHeaders(rejection, replyHeaders);

    let params: StripeParams;
    try {
      params = parseStripeParams(req.method === "GET" ? req.query : req.rawBody.toString("utf8"));
    } catch (err) {
      return withHeaders(errorReply(invalidRequest((err as Error).message)), replyHeaders);
    }

    // Idempotency keys apply to POSTs; GETs are idempotent by definition.
    const key = req.method === "POST" ? headerValue(req.headers["idempotency-key"]) : undefined;
    if (key === undefined) return withHeaders(answer(() => route(req, params, request)), replyHeaders);
    if (key.length > 255) {
      return withHeaders(
        errorReply(
          invalidRequest("Idempotency keys can be at most 255 characters long.", { param: "Idempotency-Key" }),
        ),
        replyHeaders,
      );
    }
    request.idempotencyKey = key;
    const fingerprint = `${req.method} ${req.path} ${canonicalJson(params)}`;
    const saved = savedResults.get(key);
    if (saved && Date.now() - saved.savedAt < idempotencyWindowMs) {
      if (saved.fingerprint !== fingerprint) {
        return withHeaders(
          errorReply(
            new StripeApiError(400, {
              type: "idempotency_error",
              message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
            }),
          ),
          replyHeaders,
        );
      }
      return withHeaders(saved.reply, {
        ...replyHeaders,
        "idempotency-key": key,
        "idempotent-replayed": "true",
        "original-request": saved.requestId,
      });
    }
    const reply = answer(() => route(req, params, request));
    // Stripe saves a result once the endpoint has run (successes and card
    // declines alike); validation and state errors are not saved, so the key
    // can be retried once the request is fixed.
    if (reply.status < 300 || reply.status === 402) {
      savedResults.set(key, { fingerprint, requestId: request.requestId, reply, savedAt: Date.now() });
    }
    return withHeaders(reply, { ...replyHeaders, "idempotency-key": key });
  }

  function route(req: EmulatorRequest, params: StripeParams, request: RequestContext): EmulatorReply {
    const { method, path } = req;
    if (method === "POST" && path === "/v1/payment_intents") return ok(account.createPaymentIntent(params, request));
    if (method === "GET" && path === "/v1/payment_intents/search") return ok(account.searchPaymentIntents(params));
    const intentPath = /^\/v1\/payment_intents\/([^/]+)(?:\/(capture|cancel))?$/.exec(path);
    if (intentPath) {
      const id = intentPath[1] as string;
      const action = intentPath[2];
      if (method === "GET" && action === undefined) {
        rejectUnknown(params, ["client_secret", "expand"]);
        return ok(account.retrievePaymentIntent(id));
      }
      if (method === "POST" && action === "capture") return ok(account.capturePaymentIntent(id, params, request));
      if (method === "POST" && action === "cancel") return ok(account.cancelPaymentIntent(id, params, request));
    }
    if (method === "POST" && path === "/v1/refunds") return ok(account.createRefund(params, request));
    if (method === "GET" && path === "/v1/balance") {
      rejectUnknown(params, ["expand"]);
      return ok(account.balance());
    }
    return {
      status: 404,
      body: {
        error: {
          type: "invalid_request_error",
          message: `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
        },
      },
    };
  }

  // The hosted 3D Secure page a requires_action redirect points at. Without
  // an outcome it offers both; with one it finishes authentication and sends
  // the customer back to the return_url with Stripe's query parameters.
  function authenticationPage(id: string, query: URLSearchParams, request: RequestContext): EmulatorReply {
    const outcome = query.get("outcome");
    const html = { "content-type": "text/html; charset=utf-8" };
    if (outcome === null) {
      return {
        status: 200,
        headers: html,
        body:
          `<!doctype html><title>3D Secure test page</title><p>Payment ${id}</p>` +
          `<p><a href="?outcome=authenticated">Complete authentication</a> ` +
          `<a href="?outcome=failed">Fail authentication</a></p>`,
      };
    }
    const intent = account.completeAuthentication(id, outcome === "authenticated", request);
    const returnUrl = account.returnUrlOf(id);
    if (returnUrl === undefined) {
      return { status: 200, headers: html, body: "<!doctype html><title>3D Secure test page</title><p>Done.</p>" };
    }
    const back = new URL(returnUrl);
    back.searchParams.set("payment_intent", intent.id);
    back.searchParams.set("payment_intent_client_secret", intent.client_secret);
    back.searchParams.set("redirect_status", intent.status === "requires_payment_method" ? "failed" : "succeeded");
    return { status: 302, headers: { location: back.toString() } };
  }

  return {
    name: "stripe",
    account,
    handle,
    serverError: () => ({
      status: 500,
      headers: { "request-id": stripeId("req", 14) },
      body: { error: { type: "api_error", message: "An unknown error occurred" } },
    }),
    rateLimited: () => ({
      status: 429,
      headers: { "request-id": stripeId("req", 14) },
      body: {
        error: {
          type: "invalid_request_error",
          code: "rate_limit",
          message: "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
          doc_url: "https://stripe.com/docs/error-codes/rate-limit",
        },
      },
    }),
    paymentIntentAmount(id) {
      const intent = account.paymentIntent(id);
      return intent && formatStripeAmount(intent.amount, intent.currency);
    },
    signedPaymentIntentEvent(id, { type = "payment_intent.succeeded", signedAt = unixNow() } = {}) {
      const intent = account.paymentIntent(id);
      if (!intent) throw new Error(`No such payment_intent: '${id}'`);
      const event = account.emit(type, intent, null);
      const payload = JSON.stringify(event, null, 2);
      return { event, payload, signature: signStripePayload(payload, options.webhookSecret, signedAt) };
    },
  };
}

function checkApiKey(authorization: string | undefined, secretKey: string): EmulatorReply | undefined {
  const [scheme = "", credentials = ""] = (authorization ?? "").split(" ", 2);
  // Bearer is documented; Basic with the key as user name also works.
  const presented = /^bearer$/i.test(scheme)
    ? credentials.trim()
    : /^basic$/i.test(scheme)
      ? Buffer.from(credentials, "base64").toString("utf8").split(":")[0]
      : undefined;
  if (!presented) {
    return unauthorized(
      "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
    );
  }
  if (presented !== secretKey) return unauthorized(`Invalid API Key provided: ${maskKey(presented)}`);
  return undefined;
}

function unauthorized(message: string): EmulatorReply {
  return {
    status: 401,
    headers: { "www-authenticate": 'Bearer realm="Stripe"' },
    body: { error: { type: "invalid_request_error", message } },
  };
}

function maskKey(key: string): string {
  const prefix = /^(sk|rk|pk)_(test|live)_/.exec(key)?.[0] ?? "";
  return `${prefix}${"*".repeat(Math.max(key.length - prefix.length - 4, 0))}${key.slice(-4)}`;
}

function answer(run: () => EmulatorReply): EmulatorReply {
  try {
    return run();
  } catch (err) {
    if (err instanceof StripeApiError) return errorReply(err);
    throw err;
  }
}

// A snapshot: a saved idempotent result must not change with the object.
function ok(body: unknown): EmulatorReply {
  return { status: 200, body: structuredClone(body) };
}

function errorReply(err: StripeApiError): EmulatorReply {
  return { status: err.status, body: { error: err.body } };
}

function withHeaders(reply: EmulatorReply, headers: Record<string, string>): EmulatorReply {
  return { ...reply, headers: { ...reply.headers, ...headers } };
}

// Parameters compared for idempotency regardless of the order they were sent in.
function canonicalJson(value: StripeParam | StripeParams): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k] as StripeParam)}`).join(",")}}`;
}
