import twilio from "twilio";
import type RequestClient from "twilio/lib/base/RequestClient";
import { ConnectorError, type ConnectorContext, notSentErrorCodes, socketErrorCodes } from "@onerouter/routing";

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

// Runs SDK calls with a client for this call's account, base URL and time
// budget, and maps whatever they throw to a ConnectorError. Retries are off:
// retrying and failing over is the core's job.
export async function callTwilio<T>(ctx: ConnectorContext, call: (client: twilio.Twilio) => Promise<T>): Promise<T> {
  const accountSid = ctx.credentials.account_sid;
  const authToken = ctx.credentials.auth_token;
  if (!accountSid?.startsWith("AC") || !authToken) {
    const message = "The Twilio account needs an account_sid (AC...) and auth_token";
    throw new ConnectorError("not_processed", provider, message, { reason: "PROVIDER_AUTHENTICATION_FAILED" });
  }
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
    return transportFailure(err);
  }
  if (isTwilioAnswer(err)) return err.code === undefined ? notTwiliosAnswer(err.status) : answerFailure(err.status, err.code, err.message);
  return new ConnectorError("ambiguous", provider, `Twilio call failed: ${String(err)}`, {
    reason: "PROVIDER_UNEXPECTED_ERROR",
  });
}

// Twilio's error bodies always carry a numeric code. A failure status
// without one comes from something in front of Twilio: a 429 was not
// processed; of anything else nothing is known.
function notTwiliosAnswer(status: number): ConnectorError {
  const message = `HTTP ${status} without Twilio's error object`;
  if (status === 429) return new ConnectorError("not_processed", provider, message, { httpStatus: status, reason: "PROVIDER_RATE_LIMITED" });
  return new ConnectorError("ambiguous", provider, message, {
    httpStatus: status,
    reason: status >= 500 ? "PROVIDER_UNAVAILABLE" : "PROVIDER_INVALID_RESPONSE",
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

// Maps an error answer from Twilio's REST API.
export function answerFailure(status: number, code: number | undefined, message: string): ConnectorError {
  const text = `Twilio answered ${status}${code !== undefined ? ` (${code})` : ""}: ${message}`;
  const details = { httpStatus: status, ...(code !== undefined && { providerCode: String(code) }) };
  if (status === 401) {
    return new ConnectorError("not_processed", provider, text, {
      ...details,
      reason: "PROVIDER_AUTHENTICATION_FAILED",
    });
  }
  if (status === 403) {
    return new ConnectorError("not_processed", provider, text, { ...details, reason: "PROVIDER_PERMISSION_DENIED" });
  }
  // 21611: the sender's queue is full, so this message was not queued.
  if (status === 429 || code === 21611) {
    return new ConnectorError("not_processed", provider, text, { ...details, reason: "PROVIDER_RATE_LIMITED" });
  }
  // 20503: Twilio documents the service as temporarily unavailable, to be
  // retried with back-off; the request was not taken.
  if (status === 503) {
    return new ConnectorError("not_processed", provider, text, { ...details, reason: "PROVIDER_UNAVAILABLE" });
  }
  // 20500 and other 5xx: Twilio warns that retrying a POST that sends an SMS
  // after a 500 can deliver it twice, so the message may be on its way.
  if (status >= 500) {
    return new ConnectorError("ambiguous", provider, text, { ...details, reason: "PROVIDER_UNAVAILABLE" });
  }
  return new ConnectorError("invalid_request", provider, text, { ...details, reason: "PROVIDER_REJECTED" });
}

function transportFailure(error: object): ConnectorError {
  const codes = socketErrorCodes(error);
  const description = error instanceof Error ? error.message : String(error);
  if (codes.length > 0 && codes.every((code) => notSentErrorCodes.has(code))) {
    return new ConnectorError("not_processed", provider, `Twilio unreachable: ${description}`, {
      reason: "PROVIDER_UNAVAILABLE",
    });
  }
  if (codes.includes("ECONNABORTED") || codes.includes("ETIMEDOUT")) {
    return new ConnectorError("ambiguous", provider, `No answer from Twilio in time: ${description}`, {
      reason: "PROVIDER_TIMEOUT",
    });
  }
  return new ConnectorError("ambiguous", provider, `Connection to Twilio lost: ${description}`, {
    reason: "PROVIDER_CONNECTION_LOST",
  });
}
