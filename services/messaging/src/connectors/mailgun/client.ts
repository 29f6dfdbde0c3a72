import type { APIErrorType, Interfaces, RequestOptions } from "mailgun.js/definitions";
import {
  answeredFailure,
  ConnectorError,
  type ConnectorContext,
  type DocumentedStatuses,
  sdkLoadedOnFirstCall,
  transportFailure,
} from "@onerouter/routing";

const defaultBaseUrl = "https://api.mailgun.net";

const mailgunSdk = sdkLoadedOnFirstCall("mailgun", async () => {
  const [{ default: Mailgun }, { default: FormData }] = await Promise.all([import("mailgun.js"), import("form-data")]);
  return new Mailgun(FormData);
});

export interface MailgunAccount {
  client: Interfaces.IMailgunClient;
  domain: string;
}

function credential(ctx: ConnectorContext, key: "api_key" | "domain"): string {
  const value = ctx.credentials[key];
  if (!value) {
    throw new ConnectorError("not_processed", "mailgun", `The Mailgun account has no ${key}`, {
      reason: "PROVIDER_AUTHENTICATION_FAILED",
    });
  }
  return value;
}

// The part of the SDK's client that sends every request: it hands its third
// argument, spread, to axios as the request config.
interface SdkRequestProvider {
  makeRequest(url: string, method: string, config: object, options?: unknown): Promise<unknown>;
}

// The SDK takes no HTTP agent; its requests go through the transport's
// agents by adding them to the config of each one.
function sendThroughTransport(client: Interfaces.IMailgunClient, agents: ConnectorContext["transport"]["agents"]) {
  const provider = (client as unknown as { request: { requestProvider: SdkRequestProvider } }).request.requestProvider;
  const makeRequest = provider.makeRequest.bind(provider);
  provider.makeRequest = (url, method, config, options) =>
    makeRequest(url, method, { ...config, httpAgent: agents.http, httpsAgent: agents.https }, options);
}

// A client for this call's account, base URL (the EU region, or an emulator
// in tests and dev) and time budget.
async function mailgunAccount(ctx: ConnectorContext): Promise<MailgunAccount> {
  const options: RequestOptions = {
    username: "api",
    key: credential(ctx, "api_key"),
    url: ctx.settings.base_url || defaultBaseUrl,
    timeout: ctx.timeoutMs,
    // Every call gets its own connection (the transport's agents keep none
    // alive): on a pooled socket the server already closed, a reset would say
    // nothing about whether Mailgun got the request. `Connection: close` says
    // so to Mailgun too.
    headers: { Connection: "close" },
  };
  const client = (await mailgunSdk()).client(options);
  sendThroughTransport(client, ctx.transport.agents);
  return { client, domain: credential(ctx, "domain") };
}

type MailgunApiError = APIErrorType & { type: "MailgunAPIError" };

function isApiError(err: unknown): err is MailgunApiError {
  return typeof err === "object" && err !== null && (err as { type?: unknown }).type === "MailgunAPIError";
}

// Without an HTTP answer the SDK still reports status 400, with the network
// error's code (ECONNREFUSED, ECONNABORTED, ...) as the message and its text
// as the details; an answer carries its status text instead.
function networkErrorCode(err: MailgunApiError): string | undefined {
  return /^(E[A-Z0-9_]+|ERR_[A-Z0-9_]+)$/.test(err.message) ? err.message : undefined;
}

// What Mailgun documents its error statuses to mean. 401 (a bare
// "Forbidden"), 403 (no access to the resource), and 404 for a domain the key
// does not own: the domain is one of the credentials. 429 is the API's rate
// limit; 420 a domain's sending limit ("try again after ..."). Mailgun's
// errors are a bare {message}, the shape gateways answer with too, so a 502
// or 503 cannot be told to be Mailgun's own: a gateway may have passed the
// request on before it failed; a 504 is the proxy in front of the API that
// stopped waiting for it, and the message may have been queued behind it.
// Other 5xx Mailgun documents as its own failure, to be retried; it has no
// idempotency key, so a possible duplicate on another provider is taken over
// a message never sent. 400 with Mailgun's sentence (a missing or invalid
// parameter), 413 and other 4xx are rejections.
const authenticationFailed = "PROVIDER_AUTHENTICATION_FAILED";
const rateLimited = "PROVIDER_RATE_LIMITED";
const mailgunStatuses: DocumentedStatuses = {
  notProcessed: { 401: authenticationFailed, 403: authenticationFailed, 404: authenticationFailed, 420: rateLimited, 429: rateLimited, "5xx": "PROVIDER_UNAVAILABLE" },
  ambiguous: { 502: "PROVIDER_UNAVAILABLE", 503: "PROVIDER_UNAVAILABLE", 504: "PROVIDER_TIMEOUT" },
  rejected: "PROVIDER_REJECTED",
};

// Runs SDK calls with a client for this call's account and maps whatever
// they throw to a ConnectorError. The SDK does not retry; the core does.
export async function callMailgun<T>(ctx: ConnectorContext, call: (account: MailgunAccount) => Promise<T>): Promise<T> {
  const account = await mailgunAccount(ctx);
  try {
    return await call(account);
  } catch (err) {
    if (err instanceof ConnectorError) throw err;
    if (!isApiError(err)) {
      // Not an answer and not provably unsent.
      throw new ConnectorError("ambiguous", "mailgun", `Mailgun call failed: ${String(err)}`, {
        reason: "PROVIDER_UNEXPECTED_ERROR",
      });
    }
    const code = networkErrorCode(err);
    if (code) throw transportFailure("mailgun", "Mailgun", Object.assign(new Error(err.details || code), { code }));
    // Mailgun has no error codes: its answer is a status and a sentence.
    throw answeredFailure("mailgun", mailgunStatuses, err.status, err.details || err.message, { providerCode: String(err.status) });
  }
}
