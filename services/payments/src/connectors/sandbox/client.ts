import { ConnectorError, type ConnectorContext } from "../connector";

// HTTP calls to the sandbox provider, with the account's simulation settings
// applied and every failure mapped onto the kinds that decide failover.

export const provider = "sandbox";

// Socket errors raised before a request could be sent: nothing reached the sandbox.
const notSentCodes = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

export interface SandboxCall {
  method: "GET" | "POST";
  path: string;
  body?: unknown;
  idempotencyKey?: string;
}

interface SandboxErrorBody {
  error?: { type?: string; code?: string; message?: string };
}

export async function callSandbox<T>(ctx: ConnectorContext, call: SandboxCall): Promise<T> {
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
    // A fresh connection per call: a pooled socket the sandbox has since
    // closed fails like a reset after sending, which would make a plain
    // outage look ambiguous instead of provably not processed.
    connection: "close",
  };
  if (call.body !== undefined) headers["content-type"] = "application/json";
  if (call.idempotencyKey) headers["idempotency-key"] = call.idempotencyKey;
  // The sandbox validates these values and answers 400 when they are malformed.
  if (settings.added_latency_ms) headers["sandbox-added-latency-ms"] = settings.added_latency_ms;
  if (settings.failure_rate) headers["sandbox-failure-rate"] = settings.failure_rate;
  if (settings.simulate_timeout === "true") headers["sandbox-simulate-timeout"] = "true";

  let status: number;
  let retryAfter: string | null;
  let text: string;
  try {
    const res = await fetch(new URL(call.path, settings.base_url), {
      method: call.method,
      headers,
      body: call.body === undefined ? undefined : JSON.stringify(call.body),
      signal: AbortSignal.timeout(ctx.timeoutMs),
    });
    status = res.status;
    retryAfter = res.headers.get("retry-after");
    text = await res.text();
  } catch (err) {
    throw transportError(err);
  }

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
  throw statusError(status, text, retryAfter);
}

function transportError(err: unknown): ConnectorError {
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) {
    // Whether the request left this process is unknown, so the outcome is too.
    return new ConnectorError("ambiguous", provider, "the sandbox did not answer in time", { reason: "PROVIDER_TIMEOUT" });
  }
  const code = err instanceof Error ? (err.cause as { code?: string } | undefined)?.code : undefined;
  if (code && notSentCodes.has(code)) {
    return new ConnectorError("not_processed", provider, `could not reach the sandbox (${code})`, {
      reason: "PROVIDER_UNAVAILABLE",
      providerCode: code,
    });
  }
  return new ConnectorError("ambiguous", provider, `the connection to the sandbox failed (${code ?? String(err)})`, {
    reason: "PROVIDER_CONNECTION_LOST",
    providerCode: code,
  });
}

function statusError(status: number, text: string, retryAfter: string | null): ConnectorError {
  let error: SandboxErrorBody["error"];
  try {
    error = (JSON.parse(text) as SandboxErrorBody).error;
  } catch {
    error = undefined;
  }
  const message = error?.message ?? `sandbox answered ${status}`;
  const details = { providerCode: error?.code, httpStatus: status };
  if (status === 401) {
    return new ConnectorError("not_processed", provider, message, { ...details, reason: "PROVIDER_AUTHENTICATION_FAILED" });
  }
  if (status === 429) {
    const seconds = Number(retryAfter);
    return new ConnectorError("not_processed", provider, message, {
      ...details,
      reason: "PROVIDER_RATE_LIMITED",
      retryAfterMs: retryAfter !== null && Number.isFinite(seconds) ? seconds * 1000 : undefined,
    });
  }
  // The sandbox documents every 5xx as "not processed".
  if (status >= 500) return new ConnectorError("not_processed", provider, message, { ...details, reason: "PROVIDER_UNAVAILABLE" });
  return new ConnectorError("invalid_request", provider, message, { ...details, reason: "PROVIDER_INVALID_REQUEST" });
}
