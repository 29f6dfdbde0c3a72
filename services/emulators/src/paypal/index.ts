import { postWebhook, type EmulatorReply, type EmulatorRequest, type ProviderEmulator } from "@onerouter/sandbox";
import { PaypalAccount, type CallResult } from "./account";
import { PaypalFailure, fail, paypalError } from "./errors";
import { AccessTokens } from "./oauth";
import { approveOrder, authorizeOrder, captureOrder, createOrder } from "./orders";
import { captureAuthorization, refundCapture, voidAuthorization } from "./payments";
import { searchTransactions } from "./reporting";
import { header } from "./request";
import type { EmulatedOrder, PaypalWebhookEventType } from "./resources";
import { PaypalWebhookSigner, type SignedPaypalWebhook, type WebhookSigning } from "./webhooks";

export { paypalTestTokens } from "./account";
export type { EmulatedAuthorization, EmulatedCapture, EmulatedOrder, EmulatedRefund, PaypalWebhookEventType } from "./resources";
export type { SignedPaypalWebhook } from "./webhooks";

// A local stand-in for PayPal's REST API: OAuth2 client credentials, Orders
// v2, Payments v2 (authorizations, captures, refunds), Transaction Search,
// webhook signature verification and the certificate behind it, with
// PayPal's JSON shapes, error bodies and PayPal-Request-Id idempotency.
// The buyer's approval page is GET /checkoutnow?token=<order id>, which
// approves at once and sends the buyer back to the return URL.

export interface PaypalEmulatorOptions {
  clientId?: string;
  clientSecret?: string;
  // When set, every event is posted here, signed for this webhook id.
  webhook?: { url: string; webhookId: string };
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
  signWebhook(event: object, options: WebhookSigning): SignedPaypalWebhook;
}

export function paypalEmulator(options: PaypalEmulatorOptions = {}): PaypalEmulator {
  const clientId = options.clientId ?? "paypal_emulator_client_id";
  const clientSecret = options.clientSecret ?? "paypal_emulator_client_secret";
  const accessTokens = new AccessTokens(clientId, clientSecret);
  const signer = new PaypalWebhookSigner();
  const account = new PaypalAccount(emit);
  const callResults = new Map<string, CallResult>();

  function emit(api: string, eventType: PaypalWebhookEventType, order: EmulatedOrder) {
    const target = options.webhook;
    if (!target) return;
    const signed = signer.sign(account.webhookEvent(eventType, order.id, api), { apiUrl: api, webhookId: target.webhookId });
    // Delivery failures are the receiver's problem, as they are with PayPal
    // (which would retry; the emulator sends once).
    void postWebhook(target.url, signed.body, signed.headers).catch(() => undefined);
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
    if (representation) return { status, body: account.render(api, result.kind, result.id) };
    if (result.emptyWhenMinimal) return { status: 204 };
    const full = account.render(api, result.kind, result.id);
    return { status, body: { id: full.id, status: full.status, links: full.links } };
  }

  type Route = [method: string, pattern: RegExp, handler: (api: string, req: EmulatorRequest, id: string) => EmulatorReply];
  const ok = (body: unknown): EmulatorReply => ({ status: 200, body });
  const routes: Route[] = [
    ["POST", /^\/v1\/notifications\/verify-webhook-signature$/, (_api, req) => signer.verify(req)],
    ["GET", /^\/v1\/reporting\/transactions$/, (api, req) => searchTransactions(account, api, req)],
    ["POST", /^\/v2\/checkout\/orders$/, (api, req) => idempotent(api, req, () => createOrder(account, api, req), 201)],
    ["GET", /^\/v2\/checkout\/orders\/([^/]+)$/, (api, _req, id) => ok(account.render(api, "order", id))],
    ["POST", /^\/v2\/checkout\/orders\/([^/]+)\/capture$/, (api, req, id) => idempotent(api, req, () => captureOrder(account, api, id), 201)],
    ["POST", /^\/v2\/checkout\/orders\/([^/]+)\/authorize$/, (api, req, id) => idempotent(api, req, () => authorizeOrder(account, api, id), 201)],
    ["GET", /^\/v2\/payments\/authorizations\/([^/]+)$/, (api, _req, id) => ok(account.render(api, "authorization", id))],
    ["POST", /^\/v2\/payments\/authorizations\/([^/]+)\/capture$/, (api, req, id) => idempotent(api, req, () => captureAuthorization(account, api, req, id), 201)],
    ["POST", /^\/v2\/payments\/authorizations\/([^/]+)\/void$/, (api, req, id) => idempotent(api, req, () => voidAuthorization(account, api, id), 200)],
    ["GET", /^\/v2\/payments\/captures\/([^/]+)$/, (api, _req, id) => ok(account.render(api, "capture", id))],
    ["POST", /^\/v2\/payments\/captures\/([^/]+)\/refund$/, (api, req, id) => idempotent(api, req, () => refundCapture(account, api, req, id), 201)],
    ["GET", /^\/v2\/payments\/refunds\/([^/]+)$/, (api, _req, id) => ok(account.render(api, "refund", id))],
  ];

  function route(req: EmulatorRequest): EmulatorReply {
    // Links, certificate URLs and webhooks name the emulator the way the caller reached it.
    const api = `http://${header(req, "host") ?? "127.0.0.1"}`;
    if (req.method === "POST" && req.path === "/v1/oauth2/token") return accessTokens.issue(req);
    if (req.method === "GET" && req.path === signer.certificatePath) {
      return { status: 200, headers: { "content-type": "application/x-pem-file" }, body: signer.certificatePem };
    }
    if (req.method === "GET" && req.path === "/checkoutnow") return approveOrder(account, api, req);
    accessTokens.authenticate(req);
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
    certificatePem: signer.certificatePem,
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
    order: (orderId) => account.orders.get(orderId),
    ordersWithCustomId: (customId) => [...account.orders.values()].filter((o) => o.purchaseUnit.custom_id === customId),
    accessTokensIssued: () => accessTokens.issued,
    revokeAccessTokens: () => accessTokens.revoke(),
    webhookEvent: (eventType, orderId, apiUrl) => account.webhookEvent(eventType, orderId, apiUrl),
    signWebhook: (event, signing) => signer.sign(event, signing),
  };
}
