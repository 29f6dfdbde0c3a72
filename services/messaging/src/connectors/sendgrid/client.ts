import http from "node:http";
import type { Client } from "@sendgrid/client";
import type { ClientRequest } from "@sendgrid/client/src/request";
import type { MailService } from "@sendgrid/mail";
import {
  answeredFailure,
  ConnectorError,
  type ConnectorContext,
  type DocumentedStatuses,
  hasFieldTypes,
  notProvidersAnswer,
  sdkLoadedOnFirstCall,
  transportFailure,
} from "@onerouter/routing";

// Every call gets its own connection (the transport's agents keep none
// alive): on a pooled keep-alive socket that the server already closed, a
// reset would say nothing about whether SendGrid got the request, and a
// following "connection refused" could not be trusted either. With fresh
// connections a reset means the request was on the wire.

const defaultBaseUrl = "https://api.sendgrid.com";

// Each package's module is the SDK's shared client, its class a named
// export beside it, which the packages' types leave out of a dynamic import.
interface SendGridSdk {
  Client: typeof Client;
  MailService: typeof MailService;
}

const sendGridSdk = sdkLoadedOnFirstCall("sendgrid", async (): Promise<SendGridSdk> => {
  const [client, mail] = (await Promise.all([import("@sendgrid/client"), import("@sendgrid/mail")])) as unknown as [Pick<SendGridSdk, "Client">, Pick<SendGridSdk, "MailService">];
  return { Client: client.Client, MailService: mail.MailService };
});

// The SDK hands its default request to axios, which takes more options than
// the SDK's request type lists.
type AxiosDefaults = ClientRequest & { httpAgent: http.Agent; timeout: number };

export interface SendGridApi {
  client: Client;
  mail: MailService;
}

// A client for this call's account, base URL (an emulator in tests and dev)
// and time budget. The SDK's module-level client is shared by the process,
// so it is never configured.
async function sendGridApi(ctx: ConnectorContext): Promise<SendGridApi> {
  const apiKey = ctx.credentials.api_key;
  if (!apiKey) {
    throw new ConnectorError("not_processed", "sendgrid", "The SendGrid account has no api_key", {
      reason: "PROVIDER_AUTHENTICATION_FAILED",
    });
  }
  const { Client, MailService } = await sendGridSdk();
  const client = new Client();
  // Sets the global region's base URL too, so the base URL comes after it.
  client.setApiKey(apiKey);
  const defaults: AxiosDefaults = {
    url: "",
    baseUrl: ctx.settings.base_url || defaultBaseUrl,
    httpAgent: ctx.transport.agents.http,
    httpsAgent: ctx.transport.agents.https,
    timeout: ctx.timeoutMs,
  };
  client.setDefaultRequest(defaults);
  const mail = new MailService();
  mail.setClient(client);
  return { client, mail };
}

interface SendGridFieldError {
  message?: string;
  field?: string | null;
}

// What @sendgrid/client rejects with for an HTTP answer of 400 or more.
interface SendGridResponseError {
  code: number;
  message: string;
  response: { headers: Record<string, string | undefined>; body: unknown };
}

function isResponseError(err: unknown): err is SendGridResponseError {
  return hasFieldTypes(err, { code: "number", response: "object" });
}

// What axios rejects with when no answer came back.
function isTransportError(err: unknown): err is { cause?: unknown } {
  return typeof err === "object" && err !== null && (err as { isAxiosError?: unknown }).isAxiosError === true;
}

function fieldErrors(body: unknown): SendGridFieldError[] {
  const errors = (body as { errors?: unknown } | null)?.errors;
  return Array.isArray(errors) ? errors.filter((e): e is SendGridFieldError => typeof e === "object" && e !== null) : [];
}

function retryAfterMs(headers: Record<string, string | undefined>): number | undefined {
  // X-RateLimit-Reset is the unix time (seconds) at which the window resets.
  const reset = Number(headers["x-ratelimit-reset"]);
  if (!Number.isFinite(reset) || reset <= 0) return undefined;
  return Math.max(0, reset * 1000 - Date.now());
}

// What SendGrid documents its error statuses to mean. A 403 is a key without
// the scope (or, naming `from`, a sender without a verified Sender Identity):
// nothing is sent. A 504 is the proxy in front of the API that stopped
// waiting for it, and the mail may have been queued behind it. Other 5xx
// SendGrid documents as its servers failing to handle the request, without
// saying the mail was queued; it has no idempotency key to make a retry safe
// either. A possible duplicate on another provider is the lesser harm than a
// message never sent, so these fail over. 400 (validation, with the field),
// 413 (over 30 MB) and other 4xx are rejections.
const sendGridStatuses: DocumentedStatuses = {
  notProcessed: { 401: "PROVIDER_AUTHENTICATION_FAILED", 403: "PROVIDER_AUTHENTICATION_FAILED", 429: "PROVIDER_RATE_LIMITED", "5xx": "PROVIDER_UNAVAILABLE" },
  ambiguous: { 504: "PROVIDER_TIMEOUT" },
  rejected: "PROVIDER_REJECTED",
};

// SendGrid's error bodies list `errors`; a failure status without them
// comes from something in front of SendGrid.
function answerFailure(err: SendGridResponseError): ConnectorError {
  const status = err.code;
  if (!Array.isArray((err.response.body as { errors?: unknown } | null)?.errors)) return notProvidersAnswer("sendgrid", "SendGrid", status);
  const errors = fieldErrors(err.response.body);
  const firstField = errors.find((e) => e.field)?.field ?? undefined;
  const message = errors.map((e) => e.message).filter(Boolean).join("; ") || err.message;
  const wait = status === 429 ? retryAfterMs(err.response.headers) : undefined;
  const failure = answeredFailure("sendgrid", sendGridStatuses, status, message, {
    ...(firstField && { providerCode: firstField }),
    ...(wait !== undefined && { retryAfterMs: wait }),
  });
  if (status === 403 && firstField === "from") {
    return new ConnectorError(failure.kind, "sendgrid", message, { ...failure.details, reason: "PROVIDER_SENDER_NOT_VERIFIED" });
  }
  return failure;
}

// Runs SDK calls with a client for this call's account and maps whatever
// they throw to a ConnectorError. Retries are the core's job.
export async function callSendGrid<T>(ctx: ConnectorContext, call: (api: SendGridApi) => Promise<T>): Promise<T> {
  const api = await sendGridApi(ctx);
  try {
    return await call(api);
  } catch (err) {
    if (err instanceof ConnectorError) throw err;
    if (isResponseError(err)) throw answerFailure(err);
    // axios keeps the socket error as the cause.
    if (isTransportError(err)) throw transportFailure("sendgrid", "SendGrid", err.cause ?? err);
    // The SDK checks the message before it builds a request: nothing was sent.
    throw new ConnectorError("invalid_request", "sendgrid", `SendGrid SDK refused the message: ${String(err)}`, {
      reason: "EMAIL_INVALID",
    });
  }
}
