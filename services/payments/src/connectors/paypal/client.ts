import { createHash } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { failedOnReusedConnection, sendResendingOnClosedReuse, type GuardedAgents } from "@onerouter/core";
import { ConnectorError, type ConnectorContext } from "../connector";
import { type DocumentedStatuses, notProvidersAnswer, statusMeaning, transportFailure } from "@onerouter/routing";
import type { PaypalAccessToken, PaypalErrorBody, PaypalOAuthErrorBody } from "./wire";

// A small typed REST client instead of @paypal/paypal-server-sdk: the SDK's
// Client only knows its two built-in environments (Production and Sandbox
// URLs are hard-coded in getBaseUri, with no custom URL option), so it
// cannot be pointed at `settings.base_url`. Its axios transport would also
// hide the difference between a refused connection and a timeout after
// sending, which decides whether a payment may fail over.
//
// Calls reuse connections kept alive across calls. A failure says what
// PayPal could have seen: before a fresh connection was up (refused, DNS,
// connect timeout) nothing was sent; once a request is on a connection, it
// may have been read. One exception: a kept connection PayPal closed just as
// a request was written to it fails before any answer, unread; the request
// is then sent once more on a fresh connection, whose outcome is the call's.

const defaultBaseUrl = "https://api-m.paypal.com";
// Renew access tokens this long before PayPal says they expire.
const tokenRenewalMarginSeconds = 60;

export interface PaypalCall {
  method: "GET" | "POST";
  path: string;
  query?: Record<string, string>;
  // JSON to serialize, or bytes to send exactly as they are.
  body?: object | Buffer;
  // PayPal-Request-Id. Every call that changes state at PayPal carries one,
  // so a lost answer is ambiguous exactly for the calls that have it.
  requestId?: string;
}

interface Exchange {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

interface CachedToken {
  value: string;
  expiresAt: number;
}

// Access tokens per PayPal app, shared by every call in this process.
const tokenCache = new Map<string, Promise<CachedToken>>();

function baseUrl(ctx: ConnectorContext): string {
  return (ctx.settings.base_url || defaultBaseUrl).replace(/\/+$/, "");
}

function appCredentials(ctx: ConnectorContext): { clientId: string; clientSecret: string } {
  const clientId = ctx.credentials.client_id;
  const clientSecret = ctx.credentials.client_secret;
  if (!clientId || !clientSecret) {
    throw new ConnectorError("not_processed", "paypal", "PayPal credentials need client_id and client_secret", {
      reason: "PROVIDER_AUTHENTICATION_FAILED",
    });
  }
  return { clientId, clientSecret };
}

function tokenCacheKey(ctx: ConnectorContext): string {
  const { clientId, clientSecret } = appCredentials(ctx);
  const secretHash = createHash("sha256").update(clientSecret).digest("hex");
  return `${baseUrl(ctx)}\n${clientId}\n${secretHash}`;
}

interface TransportFailure {
  cause: unknown;
  timedOut: boolean;
  // The connection to PayPal was up, so the request may have been read.
  connected: boolean;
}

function transportError({ cause, connected, timedOut }: TransportFailure, changesState: boolean): ConnectorError {
  const failure = transportFailure("paypal", "PayPal", cause, { connected, timedOut });
  if (changesState || failure.kind !== "ambiguous") return failure;
  // A call that changes nothing at PayPal cannot have acted on a lost answer.
  return new ConnectorError("not_processed", "paypal", failure.message, {
    reason: timedOut ? "PROVIDER_TIMEOUT" : "PROVIDER_UNAVAILABLE",
  });
}

function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function retryAfterMs(headers: http.IncomingHttpHeaders): number | undefined {
  const seconds = Number(headers["retry-after"]);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

// What PayPal documents its error statuses to mean. A gateway timeout comes
// from in front of PayPal's service, which may have finished the work; other
// 5xx answers mean it was not done.
const paypalStatuses: DocumentedStatuses = {
  notProcessed: { 401: "PROVIDER_AUTHENTICATION_FAILED", 403: "PROVIDER_PERMISSION_DENIED", 429: "PROVIDER_RATE_LIMITED", "5xx": "PROVIDER_UNAVAILABLE" },
  ambiguous: { 504: "PROVIDER_TIMEOUT" },
  rejected: "PROVIDER_INVALID_REQUEST",
};

function httpError(response: Exchange, changesState: boolean): ConnectorError {
  const body = (parseJson(response.text) ?? {}) as PaypalErrorBody & PaypalOAuthErrorBody;
  const detail = body.details?.[0];
  const name = body.name ?? body.error ?? `HTTP_${response.status}`;
  const providerCode = detail?.issue ?? name;
  const description = detail?.description ?? body.message ?? body.error_description ?? "";
  const debugId = body.debug_id ?? response.headers["paypal-debug-id"];
  const message = `PayPal ${response.status} ${providerCode}: ${description}${debugId ? ` (debug_id ${debugId})` : ""}`;
  const details = { providerCode, httpStatus: response.status };
  const status = response.status;
  // PayPal's errors name themselves (`name`, or `error` from OAuth); a
  // failure without one comes from something in front of PayPal. Only a
  // call that changes state can be left ambiguous by it.
  if (typeof body.name !== "string" && typeof body.error !== "string") {
    const gateway = notProvidersAnswer("paypal", "PayPal", status);
    const kind = changesState ? gateway.kind : "not_processed";
    return new ConnectorError(kind, "paypal", `${message} (not PayPal's error object)`, { ...details, reason: gateway.details.reason });
  }
  // A call that changes nothing at PayPal cannot have been left half done.
  const documented = statusMeaning(paypalStatuses, status);
  const unavailable = { kind: "not_processed" as const, reason: "PROVIDER_UNAVAILABLE" };
  const { kind, reason } = documented.kind === "ambiguous" && !changesState ? unavailable : documented;
  return new ConnectorError(kind, "paypal", message, {
    ...details,
    reason,
    ...(status === 429 && { retryAfterMs: retryAfterMs(response.headers) }),
  });
}

interface ExchangeInit {
  method: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

function exchange(ctx: ConnectorContext, url: URL, init: ExchangeInit, changesState: boolean): Promise<Exchange> {
  return sendResendingOnClosedReuse(
    { keptAlive: ctx.transport.keptAlive, fresh: ctx.transport.agents },
    (agents) => exchangeThrough(agents, ctx, url, init, changesState),
    // The kept connection was up: PayPal may have read the first send.
    (cause) => transportError({ cause, connected: true, timedOut: false }, changesState),
  );
}

function exchangeThrough(agents: GuardedAgents, ctx: ConnectorContext, url: URL, init: ExchangeInit, changesState: boolean): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const secure = url.protocol === "https:";
    const body = init.body ?? "";
    const request = (secure ? https : http).request(url, {
      method: init.method,
      headers: { ...init.headers, "content-length": String(Buffer.byteLength(body)) },
      agent: agents[secure ? "https" : "http"],
    });
    let connected = false;
    let timedOut = false;
    let settled = false;
    const timer = setTimeout(() => {
      timedOut = true;
      request.destroy(new Error(`no answer within ${ctx.timeoutMs} ms`));
    }, ctx.timeoutMs);
    const failed = (cause: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // exchange resends it.
      if (failedOnReusedConnection(cause)) return reject(cause);
      reject(transportError({ cause, timedOut, connected }, changesState));
    };
    request.on("socket", (socket) => {
      // A kept connection was up before this request, and will not connect
      // again: a listener on it would only pile up, one per request it carries.
      if (request.reusedSocket) {
        connected = true;
        return;
      }
      socket.once(secure ? "secureConnect" : "connect", () => {
        connected = true;
      });
    });
    request.on("response", (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", failed);
      response.on("end", () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          text: Buffer.concat(chunks).toString("utf8"),
        });
      });
    });
    request.on("error", failed);
    request.end(body);
  });
}

function isSuccess(response: Exchange): boolean {
  return response.status >= 200 && response.status < 300;
}

// POST /v1/oauth2/token with the app's client id and secret. Also the
// harmless call that checks credentials.
export async function requestAccessToken(ctx: ConnectorContext): Promise<CachedToken> {
  const { clientId, clientSecret } = appCredentials(ctx);
  const response = await exchange(
    ctx,
    new URL(`${baseUrl(ctx)}/v1/oauth2/token`),
    {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
      },
      body: "grant_type=client_credentials",
    },
    false,
  );
  if (!isSuccess(response)) throw httpError(response, false);
  const token = parseJson(response.text) as Partial<PaypalAccessToken> | undefined;
  if (!token?.access_token) {
    throw new ConnectorError("not_processed", "paypal", "PayPal token answer has no access_token", {
      reason: "PROVIDER_UNAVAILABLE",
    });
  }
  const lifetimeSeconds = Math.max(0, (token.expires_in ?? 0) - tokenRenewalMarginSeconds);
  return { value: token.access_token, expiresAt: Date.now() + lifetimeSeconds * 1000 };
}

async function accessToken(ctx: ConnectorContext): Promise<string> {
  const key = tokenCacheKey(ctx);
  const cached = tokenCache.get(key);
  if (cached) {
    const token = await cached;
    if (token.expiresAt > Date.now()) return token.value;
  }
  const pending = requestAccessToken(ctx);
  tokenCache.set(key, pending);
  pending.catch(() => {
    if (tokenCache.get(key) === pending) tokenCache.delete(key);
  });
  return (await pending).value;
}

// Calls a PayPal REST resource with a bearer token; answers its JSON body or
// throws a ConnectorError saying whether PayPal may have acted.
export async function paypalCall<T>(ctx: ConnectorContext, call: PaypalCall): Promise<T> {
  const changesState = call.requestId !== undefined;
  const query = call.query ? `?${new URLSearchParams(call.query).toString()}` : "";
  const url = new URL(`${baseUrl(ctx)}${call.path}${query}`);
  const send = async (token: string) => {
    const headers: Record<string, string> = {
      authorization: `Bearer ${token}`,
      accept: "application/json",
      prefer: "return=representation",
    };
    if (call.requestId !== undefined) headers["paypal-request-id"] = call.requestId;
    let body: string | Buffer | undefined;
    if (call.body !== undefined) {
      headers["content-type"] = "application/json";
      body = Buffer.isBuffer(call.body) ? call.body : JSON.stringify(call.body);
    }
    return exchange(ctx, url, { method: call.method, headers, body }, changesState);
  };

  let response = await send(await accessToken(ctx));
  if (response.status === 401) {
    // PayPal no longer honours the cached token (revoked or expired early).
    // A 401 means nothing was processed, so asking again with a new one is safe.
    tokenCache.delete(tokenCacheKey(ctx));
    response = await send(await accessToken(ctx));
  }
  if (!isSuccess(response)) throw httpError(response, changesState);
  const parsed = parseJson(response.text);
  if (parsed === undefined && response.text !== "") {
    const kind = changesState ? "ambiguous" : "not_processed";
    throw new ConnectorError(kind, "paypal", `PayPal answered ${response.status} with a body that is not JSON`, {
      reason: "PROVIDER_INVALID_RESPONSE",
      httpStatus: response.status,
    });
  }
  return parsed as T;
}
