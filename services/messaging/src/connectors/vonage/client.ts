import type { Accounts } from "@vonage/accounts";
import type { Pricing } from "@vonage/pricing";
import type { SMS } from "@vonage/sms";
import type { default as nodeFetch, Response } from "node-fetch";
import {
  answeredFailure,
  ConnectorError,
  type ConnectorContext,
  type DocumentedStatuses,
  neverSent,
  sdkLoadedOnFirstCall,
  transportFailure,
} from "@onerouter/routing";

const provider = "vonage";
const defaultRestHost = "https://rest.nexmo.com";

// The official SDK's clients for the APIs the connector calls, each from its
// own package. The SDK's umbrella (@vonage/server-sdk) loads every Vonage API
// (some 1,500 ES modules) and builds a client of each on every call: loading
// it cost a process 19 MiB of RSS for good, and 34 MiB of array buffers that
// lasted until its first full collection.
const vonageSdk = sdkLoadedOnFirstCall(provider, async () => {
  const [{ SMS }, { Accounts }, { Pricing }, { default: fetch }] = await Promise.all([
    import("@vonage/sms"),
    import("@vonage/accounts"),
    import("@vonage/pricing"),
    import("node-fetch"),
  ]);
  return { SMS, Accounts, Pricing, fetch };
});

export interface VonageClients {
  sms: SMS;
  accounts: Accounts;
  pricing: Pricing;
}

type SdkClient = VonageClients[keyof VonageClients];

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
function sendThroughTransport(client: SdkClient, agents: ConnectorContext["transport"]["agents"], fetch: typeof nodeFetch) {
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
export async function callVonage<T>(ctx: ConnectorContext, call: (sdk: VonageClients) => Promise<T>): Promise<T> {
  const apiKey = ctx.credentials.api_key;
  const apiSecret = ctx.credentials.api_secret;
  if (!apiKey || !apiSecret) {
    throw new ConnectorError("not_processed", provider, "The Vonage account needs an api_key and api_secret", {
      reason: "PROVIDER_AUTHENTICATION_FAILED",
    });
  }
  const credentials = { apiKey, apiSecret };
  const options = { restHost: ctx.settings.base_url?.replace(/\/+$/, "") || defaultRestHost, timeout: ctx.timeoutMs };
  const { SMS, Accounts, Pricing, fetch } = await vonageSdk();
  const sdk: VonageClients = { sms: new SMS(credentials, options), accounts: new Accounts(credentials, options), pricing: new Pricing(credentials, options) };
  for (const client of Object.values(sdk)) sendThroughTransport(client, ctx.transport.agents, fetch);
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

// What Vonage documents its HTTP error statuses to mean. The SMS API reports
// its own failures as per-message statuses in a 200 (see mapping.ts); an
// HTTP error comes from in front of it. Vonage documents no HTTP 5xx for the
// SMS API, so a 5xx says nothing about whether the message was queued.
const vonageStatuses: DocumentedStatuses = {
  notProcessed: { 401: "PROVIDER_AUTHENTICATION_FAILED", 429: "PROVIDER_RATE_LIMITED" },
  ambiguous: { "5xx": "PROVIDER_UNAVAILABLE" },
  rejected: "PROVIDER_REJECTED",
};

export function httpFailure(status: number): ConnectorError {
  return answeredFailure(provider, vonageStatuses, status, `Vonage answered HTTP ${status}`);
}

function vonageFailure(err: unknown): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const status = answeredStatus(err);
  if (status !== undefined) return httpFailure(status);
  // The call's time budget ran out.
  if (err instanceof Error && err.name === "AbortError") return transportFailure(provider, "Vonage", err, { timedOut: true });
  // node-fetch's FetchError keeps the socket error's code.
  if ((err instanceof Error && err.name === "FetchError") || neverSent(err)) return transportFailure(provider, "Vonage", err);
  // Not an answer from Vonage and not provably unsent: treat as unknown.
  const description = err instanceof Error ? err.message : String(err);
  return new ConnectorError("ambiguous", provider, `Vonage call failed: ${description}`, {
    reason: "PROVIDER_UNEXPECTED_ERROR",
  });
}
