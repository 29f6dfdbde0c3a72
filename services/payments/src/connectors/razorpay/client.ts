import http from "node:http";
import https from "node:https";
import Razorpay from "razorpay";
import { resendThroughFreshAgents } from "@onerouter/core";
import { ConnectorError, type ConnectorContext } from "../connector";
import { answeredFailure, type DocumentedStatuses, notProvidersAnswer, transportFailure } from "@onerouter/routing";

const provider = "razorpay";

// Razorpay's error body: {"error": {code, description, source, step, reason, metadata, field}}.
export interface RazorpayError {
  code?: string;
  description?: string;
  source?: string;
  step?: string;
  reason?: string;
  field?: string | null;
  metadata?: Record<string, string>;
}

// An HTTP answer from Razorpay: the body, or the error it answered with.
export type RazorpayAnswer<T> = { ok: true; value: T } | { ok: false; status: number; error: RazorpayError };

// The part of the SDK's axios instance (`api.rq`) used here. The SDK fixes
// its base URL to https://api.razorpay.com, sets no timeout and shares
// Node's keep-alive agent; all three are set on that per-client instance.
interface SdkHttpClient {
  defaults: { baseURL?: string; timeout?: number; httpAgent?: http.Agent; httpsAgent?: https.Agent };
  interceptors: { response: { use(onFulfilled: undefined, onRejected: (error: unknown) => unknown): number } };
  request(config: object): Promise<unknown>;
}

export interface RazorpaySession {
  sdk: Razorpay;
  // Razorpay's answer, success or error; throws a ConnectorError when there is none.
  answer<T>(request: (sdk: Razorpay) => Promise<T>): Promise<RazorpayAnswer<T>>;
  // The successful answer; throws a ConnectorError for anything else.
  call<T>(request: (sdk: Razorpay) => Promise<T>): Promise<T>;
}

// Requests reuse connections kept alive across calls. A kept connection
// Razorpay closed just as a request was written to it fails before any
// answer, unread: the request is sent once more on a fresh connection, whose
// outcome is the call's. Any other failure on a connection (a reset after
// Razorpay may have read the request) stays what it is.

// One SDK client per call: credentials and settings come with each context.
export function openSession(ctx: ConnectorContext): RazorpaySession {
  const keyId = ctx.credentials.key_id;
  const keySecret = ctx.credentials.key_secret;
  if (!keyId || !keySecret) {
    throw new ConnectorError("not_processed", provider, "the Razorpay account has no key_id or key_secret", {
      reason: "PROVIDER_AUTHENTICATION_FAILED",
    });
  }
  const sdk = new Razorpay({ key_id: keyId, key_secret: keySecret });
  const transport = (sdk.api as unknown as { rq: SdkHttpClient }).rq;
  if (ctx.settings.base_url) transport.defaults.baseURL = ctx.settings.base_url;
  transport.defaults.timeout = ctx.timeoutMs;
  transport.defaults.httpAgent = ctx.transport.keptAlive.http;
  transport.defaults.httpsAgent = ctx.transport.keptAlive.https;
  // The SDK turns a failure without an HTTP response into a TypeError,
  // dropping the socket error code that tells a refused connection (nothing
  // sent) from a timeout (maybe processed). Keep the original here, after
  // the resend a kept connection closed under a request gets.
  let transportFailure: unknown;
  transport.interceptors.response.use(undefined, resendThroughFreshAgents(transport, ctx.transport.agents));
  transport.interceptors.response.use(undefined, (error) => {
    transportFailure = error;
    return Promise.reject(error);
  });

  async function answer<T>(request: (sdk: Razorpay) => Promise<T>): Promise<RazorpayAnswer<T>> {
    transportFailure = undefined;
    try {
      return { ok: true, value: await request(sdk) };
    } catch (error) {
      if (isSdkHttpError(error)) {
        const status = Number(error.statusCode);
        if (!isRazorpayError(error.error)) throw notProvidersAnswer(provider, "Razorpay", status);
        return { ok: false, status, error: error.error };
      }
      if (transportFailure === undefined) throw error;
      throw withoutAnswer(transportFailure);
    }
  }

  return {
    sdk,
    answer,
    async call(request) {
      const result = await answer(request);
      if (!result.ok) throw httpFailure(result.status, result.error);
      return result.value;
    },
  };
}

// The SDK rejects with {statusCode, error} when Razorpay answered with an error status.
function isSdkHttpError(error: unknown): error is { statusCode: number | string; error?: RazorpayError } {
  return typeof error === "object" && error !== null && "statusCode" in error;
}

// Razorpay's error object always has a code (BAD_REQUEST_ERROR, ...).
function isRazorpayError(error: unknown): error is RazorpayError {
  return typeof error === "object" && error !== null && typeof (error as RazorpayError).code === "string";
}

// Razorpay's own code for an error: the specific reason when it gives one.
export function razorpayCode(error: RazorpayError): string | undefined {
  return error.reason && error.reason !== "NA" ? error.reason : error.code;
}

// What Razorpay documents its error statuses to mean.
const razorpayStatuses: DocumentedStatuses = {
  notProcessed: { 401: "PROVIDER_AUTHENTICATION_FAILED", 429: "PROVIDER_RATE_LIMITED", "5xx": "PROVIDER_UNAVAILABLE" },
  ambiguous: {},
  rejected: "PROVIDER_INVALID_REQUEST",
};

export function httpFailure(status: number, error: RazorpayError): ConnectorError {
  const message = `Razorpay answered ${status}: ${error.description ?? "no description"}`;
  return answeredFailure(provider, razorpayStatuses, status, message, { providerCode: razorpayCode(error) });
}

function withoutAnswer(failure: unknown): ConnectorError {
  // A response that the SDK could not read (e.g. an empty body) still carries its status.
  if (typeof failure === "object" && failure !== null && "response" in failure) {
    const response = failure.response as { status?: number } | undefined;
    if (response?.status) return notProvidersAnswer(provider, "Razorpay", response.status);
  }
  return transportFailure(provider, "Razorpay", failure);
}

// Once Razorpay has taken money in a call, a later failure in the same call
// says nothing about that money: it is ambiguous, never "not processed".
export async function afterMoneyMoved<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof ConnectorError && error.kind === "not_processed") {
      throw new ConnectorError("ambiguous", provider, `Razorpay took the payment, then: ${error.message}`, error.details);
    }
    throw error;
  }
}
