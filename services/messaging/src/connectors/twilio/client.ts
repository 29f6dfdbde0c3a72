import type { Twilio } from "twilio";
import type RequestClient from "twilio/lib/base/RequestClient";
import {
  ConnectorError,
  type ConnectorContext,
  type DocumentedStatuses,
  notProvidersAnswer,
  sdkLoadedOnFirstCall,
  statusMeaning,
  transportFailure,
} from "@onerouter/routing";

const provider = "twilio";

// The SDK's HTTP client, extended at its documented `httpClient` option so
// that requests for https://api.twilio.com go to the account's base URL (an
// emulator in tests and dev) instead.
//
// keepAlive off gives every request its own connection (the transport's
// non-keep-alive agents and `Connection: close`). A keep-alive connection
// Twilio closed while idle fails with a reset that cannot be told from a reset
// after Twilio read the request; a fresh connection is either refused (nothing
// sent) or carries the request. The SDK builds its own https agent; the
// transport's replace it, for http base URLs too.
const twilioSdk = sdkLoadedOnFirstCall(provider, async () => {
  const { default: twilio } = await import("twilio");
  class TwilioHttpClient extends twilio.RequestClient {
    private readonly baseUrl: string | undefined;

    constructor(baseUrl: string | undefined, timeoutMs: number, agents: ConnectorContext["transport"]["agents"]) {
      super({ timeout: timeoutMs, keepAlive: false, autoRetry: false });
      this.baseUrl = baseUrl?.replace(/\/+$/, "");
      this.axios.defaults.httpAgent = agents.http;
      this.axios.defaults.httpsAgent = agents.https;
    }

    override request<TData>(opts: RequestClient.RequestOptions<TData>) {
      if (!this.baseUrl) return super.request(opts);
      const target = new URL(opts.uri);
      return super.request({ ...opts, uri: this.baseUrl + target.pathname + target.search });
    }
  }
  return { twilio, TwilioHttpClient };
});

// Runs SDK calls with a client for this call's account, base URL and time
// budget, and maps whatever they throw to a ConnectorError. Retries are off:
// retrying and failing over is the core's job.
export async function callTwilio<T>(ctx: ConnectorContext, call: (client: Twilio) => Promise<T>): Promise<T> {
  const accountSid = ctx.credentials.account_sid;
  const authToken = ctx.credentials.auth_token;
  if (!accountSid?.startsWith("AC") || !authToken) {
    const message = "The Twilio account needs an account_sid (AC...) and auth_token";
    throw new ConnectorError("not_processed", provider, message, { reason: "PROVIDER_AUTHENTICATION_FAILED" });
  }
  const { twilio, TwilioHttpClient } = await twilioSdk();
  const client = twilio(accountSid, authToken, {
    httpClient: new TwilioHttpClient(ctx.settings.base_url, ctx.timeoutMs, ctx.transport.agents),
  });
  try {
    return await call(client);
  } catch (err) {
    throw twilioFailure(err);
  }
}

// What the SDK throws when Twilio answered with an error status: RestException,
// or TwilioServiceException for RFC 9457 bodies; both carry status and code.
interface TwilioAnswer {
  status: number;
  code?: number;
  message: string;
}

function isTwilioAnswer(err: unknown): err is TwilioAnswer {
  return err instanceof Error && typeof (err as Partial<TwilioAnswer>).status === "number";
}

export function twilioFailure(err: unknown): ConnectorError {
  if (err instanceof ConnectorError) return err;
  // Axios errors carry no answer here: the SDK's client accepts every status.
  if (typeof err === "object" && err !== null && (err as { isAxiosError?: boolean }).isAxiosError) {
    return transportFailure(provider, "Twilio", err);
  }
  if (isTwilioAnswer(err)) {
    // Twilio's error bodies always carry a numeric code.
    return err.code === undefined ? notProvidersAnswer(provider, "Twilio", err.status) : answerFailure(err.status, err.code, err.message);
  }
  return new ConnectorError("ambiguous", provider, `Twilio call failed: ${String(err)}`, {
    reason: "PROVIDER_UNEXPECTED_ERROR",
  });
}

// A successful answer without the resource's sid is not Twilio's: the
// request may have reached Twilio, so it is ambiguous.
export function expectSid<T extends { sid?: unknown }>(resource: T, what: string): T & { sid: string } {
  if (typeof resource?.sid !== "string" || resource.sid === "") {
    throw new ConnectorError("ambiguous", provider, `Twilio's answer is not ${what}`, { reason: "PROVIDER_INVALID_RESPONSE" });
  }
  return resource as T & { sid: string };
}

// What Twilio documents its error statuses to mean. A 503 (20503) is the
// service temporarily unavailable, to be retried with back-off: the request
// was not taken. After a 500 (20500) or another 5xx Twilio warns that
// retrying a POST that sends an SMS can deliver it twice, so the message may
// be on its way.
const twilioStatuses: DocumentedStatuses = {
  notProcessed: { 401: "PROVIDER_AUTHENTICATION_FAILED", 403: "PROVIDER_PERMISSION_DENIED", 429: "PROVIDER_RATE_LIMITED", 503: "PROVIDER_UNAVAILABLE" },
  ambiguous: { "5xx": "PROVIDER_UNAVAILABLE" },
  rejected: "PROVIDER_REJECTED",
};

// 21611: the sender's queue is full, so this message was not queued.
const queueFullCode = 21611;

// Maps an error answer from Twilio's REST API.
export function answerFailure(status: number, code: number | undefined, message: string): ConnectorError {
  const text = `Twilio answered ${status}${code !== undefined ? ` (${code})` : ""}: ${message}`;
  const details = code !== undefined ? { providerCode: String(code) } : {};
  const queueFull = code === queueFullCode && status !== 401 && status !== 403;
  const { kind, reason } = statusMeaning(twilioStatuses, queueFull ? 429 : status);
  return new ConnectorError(kind, provider, text, { ...details, httpStatus: status, reason });
}
