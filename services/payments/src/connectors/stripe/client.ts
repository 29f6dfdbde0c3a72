import { sendResendingOnClosedReuse } from "@onerouter/core";
import { sdkLoadedOnFirstCall } from "@onerouter/routing";
import type Stripe from "stripe";
import { ConnectorError, type ConnectorContext } from "../connector";
import { connectorError } from "./mapping";

// Calls reuse connections kept alive across calls (a TCP and TLS handshake
// saved on every payment). A kept connection Stripe closed just as a request
// was written to it fails before any answer: Stripe most likely did not read
// it, so it is sent once more on a fresh connection, here, under the same
// idempotency key, and the SDK sees one try whose outcome is the fresh one's
// when that one is answered, and the first reset when it is not (even
// refused: the first may have been read). Any other reset reaches the SDK as it came: it
// resends a reset request once, even with retries off, under the same
// idempotency key, and a call that took two tries is ambiguous (connectorError).
const stripeSdk = sdkLoadedOnFirstCall("stripe", async () => {
  const { default: StripeSdk } = await import("stripe");
  class KeptAliveHttpClient extends StripeSdk.HttpClient {
    constructor(private readonly transport: ConnectorContext["transport"]) {
      super();
    }

    override getClientName(): string {
      return "node";
    }

    override makeRequest(...request: Parameters<Stripe.HttpClient["makeRequest"]>) {
      const protocol = request[6] === "http" ? "http" : "https";
      return sendResendingOnClosedReuse(
        { keptAlive: this.transport.keptAlive, fresh: this.transport.agents },
        (agents) => StripeSdk.createNodeHttpClient(agents[protocol]).makeRequest(...request),
      );
    }
  }
  return { StripeSdk, KeptAliveHttpClient };
});

function apiAddress(baseUrl: string): { host: string; port: number; protocol: "http" | "https" } {
  const url = new URL(baseUrl);
  const protocol = url.protocol === "http:" ? "http" : "https";
  return {
    // URL keeps IPv6 literals bracketed; Node's http wants them bare.
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port ? Number(url.port) : protocol === "http" ? 80 : 443,
    protocol,
  };
}

// Runs SDK calls with a client for this call's account, base URL (an
// emulator in tests and dev) and time budget, and maps whatever they throw to
// a ConnectorError. Retries are off: retrying and failing over is the core's job.
export async function callStripe<T>(ctx: ConnectorContext, call: (stripe: Stripe) => Promise<T>): Promise<T> {
  const secretKey = ctx.credentials.secret_key;
  if (!secretKey) {
    throw new ConnectorError("not_processed", "stripe", "The Stripe account has no secret_key", {
      reason: "PROVIDER_AUTHENTICATION_FAILED",
    });
  }
  const address = ctx.settings.base_url ? apiAddress(ctx.settings.base_url) : undefined;
  const { StripeSdk, KeptAliveHttpClient } = await stripeSdk();
  const stripe = new StripeSdk(secretKey, {
    ...address,
    httpClient: new KeptAliveHttpClient(ctx.transport),
    timeout: ctx.timeoutMs,
    maxNetworkRetries: 0,
    telemetry: false,
    appInfo: { name: "OneRouter" },
  });
  // The SDK emits "request" for each try it sends, its own retry included.
  let attempts = 0;
  stripe.on("request", () => {
    attempts += 1;
  });
  try {
    return await call(stripe);
  } catch (err) {
    throw connectorError(err, StripeSdk.errors, attempts);
  }
}
