import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { copyWith, sendResendingOnClosedReuse, type GuardedAgents } from "@onerouter/core";
import {
  answeredFailure,
  ConnectorError,
  type ConnectorContext,
  type DocumentedStatuses,
  notProvidersAnswer,
  socketErrorCodes,
  transportFailure,
  type WebhookInput,
} from "@onerouter/routing";
import type { SandboxEvent } from "./server/webhooks";
import { sandboxSignatureHeader, sandboxWebhookSecret } from "./signature";

// The built-in sandbox provider as its connectors see it, whatever the
// category: HTTP calls with the account's simulation settings applied and
// every failure mapped onto the kinds that decide failover, and the
// verification of its signed webhooks. `provider` is the connector's name,
// which its errors carry.

// Deliveries signed further than this from now are refused as replays.
const webhookToleranceSeconds = 300;

// A fresh sandbox API key: each distinct key is its own isolated sandbox
// account, created on first use.
export function newSandboxApiKey(): string {
  return `sk_sandbox_${randomBytes(16).toString("hex")}`;
}

// Where the in-process sandbox runs, for accounts that name no base_url.
export interface BuiltInSandbox {
  // Where it listens: the base_url of sandbox accounts that have none, so
  // stored accounts survive restarts on a new port.
  baseUrl: string;
  // Where it can reach this server, for its webhooks; unknown until the
  // server listens.
  webhookBaseUrl?: () => string | undefined;
}

// A sandbox account's settings with the built-in sandbox filled in when it
// names no base_url; `webhookPath` (on this server) then becomes its
// webhook_url unless it has one.
export function builtInSandboxSettings(
  sandbox: BuiltInSandbox | undefined,
  settings: Record<string, string>,
  webhookPath?: string,
): Record<string, string> {
  if (!sandbox || settings.base_url) return settings;
  const resolved: Record<string, string> = copyWith(settings, { base_url: sandbox.baseUrl });
  const webhookBaseUrl = sandbox.webhookBaseUrl?.();
  if (webhookPath && webhookBaseUrl && !settings.webhook_url) resolved.webhook_url = `${webhookBaseUrl}${webhookPath}`;
  return resolved;
}

export interface SandboxCall {
  method: "GET" | "POST";
  path: string;
  body?: unknown;
  idempotencyKey?: string;
}

interface SandboxErrorBody {
  error?: { type?: string; code?: string; message?: string };
}

export async function callSandbox<T>(provider: string, ctx: ConnectorContext, call: SandboxCall): Promise<T> {
  const { settings } = ctx;
  if (settings.simulate_outage === "true") {
    throw new ConnectorError("not_processed", provider, "sandbox outage simulated by the account's simulate_outage setting", {
      reason: "PROVIDER_UNAVAILABLE",
    });
  }
  if (!settings.base_url) {
    throw new ConnectorError("not_processed", provider, "the sandbox account has no base_url setting", {
      reason: "PROVIDER_UNAVAILABLE",
    });
  }
  const headers: Record<string, string> = {
    accept: "application/json",
    authorization: `Bearer ${ctx.credentials.api_key ?? ""}`,
  };
  if (call.body !== undefined) headers["content-type"] = "application/json";
  if (call.idempotencyKey) headers["idempotency-key"] = call.idempotencyKey;
  // The sandbox validates these values and answers 400 when they are malformed.
  if (settings.added_latency_ms) headers["sandbox-added-latency-ms"] = settings.added_latency_ms;
  if (settings.failure_rate) headers["sandbox-failure-rate"] = settings.failure_rate;
  if (settings.simulate_timeout === "true") headers["sandbox-simulate-timeout"] = "true";

  const url = new URL(call.path, settings.base_url);
  const payload = call.body === undefined ? undefined : JSON.stringify(call.body);
  // One time budget for the call, a resend included.
  const deadline = performance.now() + ctx.timeoutMs;
  const exchange = (agents: GuardedAgents) => send(agents, url, call.method, headers, payload, deadline);
  let answer: SandboxAnswer;
  try {
    // The sandbox acts on a POST once per Idempotency-Key and a GET changes
    // nothing, so such a call goes over a kept connection and is resent once
    // on a fresh one when the kept one closed before any answer (an idle
    // close crossing the request). A POST without a key could act twice, so
    // it gets a connection of its own, where a reset means it was on the wire.
    answer =
      call.method === "GET" || call.idempotencyKey
        ? await sendResendingOnClosedReuse({ keptAlive: ctx.transport.keptAlive, fresh: ctx.transport.agents }, exchange)
        : await exchange(ctx.transport.agents);
  } catch (err) {
    throw transportError(provider, err);
  }
  const { status, retryAfter, text } = answer;

  if (status >= 200 && status < 300) {
    try {
      return JSON.parse(text) as T;
    } catch {
      // The sandbox answered success, so the request may well have taken effect.
      throw new ConnectorError("ambiguous", provider, `sandbox answered ${status} with a body that is not JSON`, {
        reason: "PROVIDER_INVALID_RESPONSE",
        httpStatus: status,
      });
    }
  }
  throw statusError(provider, status, text, retryAfter);
}

interface SandboxAnswer {
  status: number;
  retryAfter: string | null;
  text: string;
}

// One HTTP exchange through `agents`, cut off at `deadline` (on
// performance.now()'s clock), the end of the call's time budget. A timer
// rather than an AbortSignal: on Node 20 each AbortSignal gets hidden classes
// of its own, and AbortSignal.timeout's is held weakly until a full
// collection (see copyWith in @onerouter/core).
function send(
  agents: GuardedAgents,
  url: URL,
  method: string,
  headers: Record<string, string>,
  payload: string | undefined,
  deadline: number,
): Promise<SandboxAnswer> {
  const secure = url.protocol === "https:";
  return new Promise((resolve, reject) => {
    const request = (secure ? https : http).request(url, {
      method,
      headers: payload === undefined ? headers : copyWith(headers, { "content-length": String(Buffer.byteLength(payload)) }),
      agent: agents[secure ? "https" : "http"],
    });
    const budget = setTimeout(() => request.destroy(new DOMException("The operation was aborted due to timeout", "TimeoutError")), Math.max(0, deadline - performance.now()));
    const fail = (err: Error) => {
      clearTimeout(budget);
      reject(err);
    };
    request.on("response", (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", fail);
      response.on("end", () => {
        clearTimeout(budget);
        const retryAfter = response.headers["retry-after"];
        resolve({ status: response.statusCode ?? 0, retryAfter: retryAfter ?? null, text: Buffer.concat(chunks).toString("utf8") });
      });
    });
    request.on("error", fail);
    request.end(payload);
  });
}

function transportError(provider: string, err: unknown): ConnectorError {
  // Whether a request the time budget cut off left this process is unknown,
  // so its outcome is too.
  const failure = transportFailure(provider, "the sandbox", err);
  if (failure.details.reason === "PROVIDER_TIMEOUT") return failure;
  return new ConnectorError(failure.kind, provider, failure.message, { ...failure.details, providerCode: socketErrorCodes(err)[0] });
}

// What the sandbox documents its error statuses to mean: every 5xx as "not processed".
const sandboxStatuses: DocumentedStatuses = {
  notProcessed: { 401: "PROVIDER_AUTHENTICATION_FAILED", 429: "PROVIDER_RATE_LIMITED", "5xx": "PROVIDER_UNAVAILABLE" },
  ambiguous: {},
  rejected: "PROVIDER_INVALID_REQUEST",
};

function statusError(provider: string, status: number, text: string, retryAfter: string | null): ConnectorError {
  let error: SandboxErrorBody["error"];
  try {
    error = (JSON.parse(text) as SandboxErrorBody).error;
  } catch {
    error = undefined;
  }
  // The sandbox's own 401 and 429 are trusted with any body; other failure
  // statuses without its error object come from something in front of it.
  if (!error && status !== 401 && status !== 429) return notProvidersAnswer(provider, "the sandbox", status);
  const seconds = Number(retryAfter);
  return answeredFailure(provider, sandboxStatuses, status, error?.message ?? `sandbox answered ${status}`, {
    providerCode: error?.code,
    ...(status === 429 && { retryAfterMs: retryAfter !== null && Number.isFinite(seconds) ? seconds * 1000 : undefined }),
  });
}

// Verifies `Sandbox-Signature: t=<unix seconds>,v1=<hex>`: HMAC-SHA256 over
// "<t>.<raw body>" with the account's webhook secret.
export function verifySandboxSignature(provider: string, apiKey: string, input: WebhookInput, now: Date = new Date()): void {
  const header = input.headers[sandboxSignatureHeader];
  if (!header) throw sandboxWebhookRejected(provider, "the Sandbox-Signature header is missing");
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(",")) {
    const [key, value] = part.split("=", 2).map((s) => s.trim());
    if (key === "t" && value && /^\d+$/.test(value)) timestamp = Number(value);
    if (key === "v1" && value) signatures.push(value);
  }
  if (timestamp === undefined || signatures.length === 0) throw sandboxWebhookRejected(provider, "the Sandbox-Signature header is malformed");
  if (Math.abs(now.getTime() / 1000 - timestamp) > webhookToleranceSeconds) {
    throw sandboxWebhookRejected(provider, "the webhook timestamp is outside the tolerance");
  }
  const expected = createHmac("sha256", sandboxWebhookSecret(apiKey))
    .update(`${timestamp}.`)
    .update(input.rawBody)
    .digest();
  const matches = signatures.some((candidate) => {
    const given = Buffer.from(candidate, "hex");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!matches) throw sandboxWebhookRejected(provider, "the webhook signature does not match");
}

// A delivery's event once its signature holds; `what` names the delivery in
// errors ("webhook", "callback").
export function verifiedSandboxEvent(provider: string, apiKey: string, input: WebhookInput, what: string): SandboxEvent {
  verifySandboxSignature(provider, apiKey, input);
  let event: SandboxEvent;
  try {
    event = JSON.parse(input.rawBody.toString("utf8")) as SandboxEvent;
  } catch {
    throw sandboxWebhookRejected(provider, `the ${what} body is not JSON`);
  }
  if (typeof event?.id !== "string" || typeof event.type !== "string" || typeof event.data?.object !== "object") {
    throw sandboxWebhookRejected(provider, `the ${what} body is not a sandbox event`);
  }
  return event;
}

export function sandboxWebhookRejected(provider: string, message: string): ConnectorError {
  return new ConnectorError("invalid_signature", provider, message, { reason: "WEBHOOK_SIGNATURE_INVALID" });
}
