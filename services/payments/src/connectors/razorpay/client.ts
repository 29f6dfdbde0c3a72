import http from "node:http";
import https from "node:https";
import type Razorpay from "razorpay";
import { ConnectorError, type ConnectorContext } from "../connector";
import { answeredFailure, type DocumentedStatuses, notProvidersAnswer, sdkLoadedOnFirstCall, transportFailure } from "@onerouter/routing";

const provider = "razorpay";

const razorpaySdk = sdkLoadedOnFirstCall(provider, async () => (await import("razorpay")).default);

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
}

export interface RazorpaySession {
  sdk: Razorpay;
  // Razorpay's answer, success or error; throws a ConnectorError when there is none.
  answer<T>(request: (sdk: Razorpay) => Promise<T>): Promise<RazorpayAnswer<T>>;
  // The successful answer; throws a ConnectorError for anything else.
  call<T>(request: (sdk: Razorpay) => Promise<T>): Promise<T>;
}

// Every request gets its own connection (the transport's agents keep none
// alive). A keep-alive connection Razorpay closed while idle fails with a
// reset that cannot be told from a reset after Razorpay read the request; a
// fresh connection is either refused (nothing sent) or carries the request.

// One SDK client per call: credentials and settings come with each context.
export async function openSession(ctx: ConnectorContext): Promise<RazorpaySession> {
  const keyId = ctx.credentials.key_id;
  const keySecret = ctx.credentials.key_secret;
  if (!keyId || !keySecret) {
    throw new ConnectorError("not_processed", provider, "the Razorpay account has no key_id or key_secret", {
      reason: "PROVIDER_AUTHENTICATION_FAILED",
    });
  }
  const RazorpaySdk = await razorpaySdk();
  const sdk = new RazorpaySdk({ key_id: keyId, key_secret: keySecret });
  const transport = (sdk.api as unknown as { rq: SdkHttpClient }).rq;
  if (ctx.settings.base_url) transport.defaults.baseURL = ctx.settings.base_url;
  transport.defaults.timeout = ctx.timeoutMs;
  transport.defaults.httpAgent = ctx.transport.agents.http;
  transport.defaults.httpsAgent = ctx.transport.agents.https;
  // The SDK turns a failure without an HTTP response into a TypeError,
  // dropping the socket error code that tells a refused connection (nothing
  // sent) from a timeout (maybe processed). Keep the original here.
  let transportFailure: unknown;
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
