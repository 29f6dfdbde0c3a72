import { Vonage } from "@vonage/server-sdk";
import fetch, { type Response } from "node-fetch";
import { ConnectorError, type ConnectorContext, notSentErrorCodes } from "@onerouter/routing";

const provider = "vonage";
const defaultRestHost = "https://rest.nexmo.com";

type SdkClient = Vonage["sms"] | Vonage["accounts"];

type SdkRequest = Parameters<SdkClient["sendRequest"]>[0];

// The protected steps of the SDK's sendRequest, around its fetch.
interface SdkSteps {
  config: { timeout: number | null };
  prepareRequest(request: SdkRequest): Promise<SdkRequest>;
  prepareBody(request: SdkRequest): string | undefined;
  parseResponse(request: SdkRequest, response: Response): ReturnType<SdkClient["sendRequest"]>;
}

// The SDK fetches through Node's global agent, which keeps connections alive,
// and takes no agent option; every request of a client passes its public
// sendRequest, so that is where the SDK's own steps are run around a fetch
// through the transport's agents. Those keep no connection alive: a
// kept-alive connection Vonage closed while idle fails with a reset that
// cannot be told from a reset after Vonage read the request, while a
// connection of its own is either refused (nothing sent) or carries the
// request. `Connection: close` says so to Vonage too.
function sendThroughTransport(client: SdkClient, agents: ConnectorContext["transport"]["agents"]) {
  const steps = client as unknown as SdkSteps;
  client.sendRequest = (async (original: SdkRequest) => {
    const request = await steps.prepareRequest({ ...original, headers: { ...original.headers, connection: "close" } });
    const timeout = request.timeout || steps.config.timeout;
    const controller = new AbortController();
    const timer = timeout ? setTimeout(() => controller.abort(), timeout) : undefined;
    try {
      const response = await fetch(request.url, {
        method: request.method,
        headers: request.headers,
        body: steps.prepareBody(request),
        agent: (url) => (url.protocol === "https:" ? agents.https : agents.http),
        signal: controller.signal,
      });
      return await steps.parseResponse(request, response);
    } finally {
      clearTimeout(timer);
    }
  }) as SdkClient["sendRequest"];
}

// Runs SDK calls with a client for this call's account, REST host (an
// emulator in tests and dev) and time budget, and maps whatever they throw to
// a ConnectorError.
export async function callVonage<T>(ctx: ConnectorContext, call: (sdk: Vonage) => Promise<T>): Promise<T> {
  const apiKey = ctx.credentials.api_key;
  const apiSecret = ctx.credentials.api_secret;
  if (!apiKey || !apiSecret) {
    throw new ConnectorError("not_processed", provider, "The Vonage account needs an api_key and api_secret", {
      reason: "PROVIDER_AUTHENTICATION_FAILED",
    });
  }
  const sdk = new Vonage(
    { apiKey, apiSecret },
    { restHost: ctx.settings.base_url?.replace(/\/+$/, "") || defaultRestHost, timeout: ctx.timeoutMs },
  );
  sendThroughTransport(sdk.sms, ctx.transport.agents);
  sendThroughTransport(sdk.accounts, ctx.transport.agents);
  try {
    return await call(sdk);
  } catch (err) {
    throw vonageFailure(err);
  }
}

// What the SDK throws when Vonage answered with an error status (VetchError).
function answeredStatus(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null || !("response" in err)) return undefined;
  const status = (err.response as { status?: unknown } | undefined)?.status;
  return typeof status === "number" ? status : undefined;
}

function vonageFailure(err: unknown): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const status = answeredStatus(err);
  if (status !== undefined) return httpFailure(status);
  if (err instanceof Error && err.name === "AbortError") {
    return new ConnectorError("ambiguous", provider, `No answer from Vonage in time: ${err.message}`, {
      reason: "PROVIDER_TIMEOUT",
    });
  }
  return transportFailure(err);
}

// HTTP error statuses. The SMS API reports its own failures as per-message
// statuses in a 200 (see sms.ts); an HTTP error comes from in front of it.
export function httpFailure(status: number): ConnectorError {
  const message = `Vonage answered HTTP ${status}`;
  const details = { httpStatus: status };
  if (status === 401) {
    return new ConnectorError("not_processed", provider, message, {
      ...details,
      reason: "PROVIDER_AUTHENTICATION_FAILED",
    });
  }
  if (status === 429) {
    return new ConnectorError("not_processed", provider, message, { ...details, reason: "PROVIDER_RATE_LIMITED" });
  }
  // Vonage documents no HTTP 5xx for the SMS API, only per-message statuses;
  // a 5xx without them says nothing about whether the message was queued.
  if (status >= 500) {
    return new ConnectorError("ambiguous", provider, message, { ...details, reason: "PROVIDER_UNAVAILABLE" });
  }
  return new ConnectorError("invalid_request", provider, message, { ...details, reason: "PROVIDER_REJECTED" });
}

function transportFailure(err: unknown): ConnectorError {
  // node-fetch's FetchError keeps the socket error's code.
  const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  const description = err instanceof Error ? err.message : String(err);
  if (typeof code === "string" && notSentErrorCodes.has(code)) {
    return new ConnectorError("not_processed", provider, `Vonage unreachable: ${description}`, {
      reason: "PROVIDER_UNAVAILABLE",
    });
  }
  if (err instanceof Error && err.name === "FetchError") {
    return new ConnectorError("ambiguous", provider, `Connection to Vonage lost: ${description}`, {
      reason: "PROVIDER_CONNECTION_LOST",
    });
  }
  // Not an answer from Vonage and not provably unsent: treat as unknown.
  return new ConnectorError("ambiguous", provider, `Vonage call failed: ${description}`, {
    reason: "PROVIDER_UNEXPECTED_ERROR",
  });
}
