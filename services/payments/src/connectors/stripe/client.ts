import Stripe from "stripe";
import { ConnectorError, type ConnectorContext } from "../connector";
import { connectorError } from "./mapping";

// Every call gets its own connection (the transport's agents keep none
// alive). On a pooled keep-alive socket the server may already have closed,
// the SDK sees a reset and silently retries once (even with retries off); a
// reset then means nothing, and a following "connection refused" would hide
// whether the first try got through. With fresh connections a reset means
// the request was on the wire.

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
  const stripe = new Stripe(secretKey, {
    ...address,
    httpAgent: ctx.transport.agents[address?.protocol ?? "https"],
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
    throw connectorError(err, attempts);
  }
}
