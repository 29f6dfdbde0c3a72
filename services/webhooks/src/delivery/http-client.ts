import http from "node:http";
import https from "node:https";
import { performance } from "node:perf_hooks";
import { closedOnReuse, copyWith, forbiddenDestination, httpUrl, keptAliveAgentOptions, parseCidr, parseIp, pinnedLookup, vetDestination, type Cidr, type ResolvedAddress } from "@onerouter/core";

// The HTTP client that delivers webhooks. It owns the SSRF rules: the host is
// resolved once, every address it resolves to must be public (or inside the
// operator's allow-list), and the connection goes to those vetted addresses
// themselves, so a second DNS answer cannot redirect it. Redirects are not
// followed. Whatever happens, the result is an attempt outcome, never a throw.
//
// Connections are kept alive per endpoint origin and vetted address set: a
// delivery's host is still resolved and checked every time, and it reuses a
// connection only when it was made to exactly the addresses this check
// allowed, so a pooled socket never predates the check that sends to it.

export type EndpointEnvironment = "test" | "live";

// Kept from a response; the rest is read and dropped.
export const maxResponseBodyBytes = 4096;

export interface WebhookPost {
  url: string;
  environment: EndpointEnvironment;
  headers: Record<string, string>;
  body: string;
}

export interface WebhookPostResult {
  // 0 when no response arrived.
  statusCode: number;
  // At most 4 KiB of the response body.
  responseBody: string;
  // The Retry-After header, when the endpoint sent one.
  retryAfter?: string;
  latencyMs: number;
  // Why the attempt failed short of a status code, or why a status code is
  // not taken as an answer (redirects); empty otherwise.
  error: string;
}

export interface WebhookHttpClientOptions {
  // CIDR ranges that may be delivered to although they are private, loopback...
  allowedCidrs: readonly string[];
  timeoutMs: number;
}

// Origins whose agents are kept; the least recently used beyond it is let
// go, its idle connections closing once idle long enough.
const maxKeptOrigins = 1000;

export class WebhookHttpClient {
  readonly timeoutMs: number;
  private readonly allowList: Cidr[];
  private readonly agents = new Map<string, http.Agent>();

  constructor(options: WebhookHttpClientOptions) {
    this.timeoutMs = options.timeoutMs;
    this.allowList = options.allowedCidrs.map(parseCidr);
  }

  async post(request: WebhookPost): Promise<WebhookPostResult> {
    const started = performance.now();
    const failed = (error: string): WebhookPostResult => ({
      statusCode: 0,
      responseBody: "",
      latencyMs: Math.round(performance.now() - started),
      error,
    });
    const checked = checkUrl(request.url, request.environment);
    if (typeof checked === "string") return failed(`endpoint URL ${checked}`);
    // One budget for resolving, connecting, sending and reading the answer.
    const budget = new AbortController();
    const deadline = budget.signal;
    const timer = setTimeout(() => budget.abort(), this.timeoutMs);
    const timedOut = `no answer within ${this.timeoutMs} ms`;
    try {
      const addresses = await this.vettedAddresses(checked.hostname, deadline);
      if (typeof addresses === "string") return failed(addresses);
      const { location, ...answer } = await send(checked, this.agentFor(checked, addresses), addresses, request, deadline);
      return {
        ...answer,
        latencyMs: Math.round(performance.now() - started),
        error:
          answer.statusCode >= 300 && answer.statusCode < 400
            ? `redirects are not followed (Location: ${location ?? "none"})`
            : "",
      };
    } catch (err) {
      return failed(deadline.aborted ? timedOut : describeNetworkError(err));
    } finally {
      clearTimeout(timer);
    }
  }

  // The keep-alive agent for an origin at these vetted addresses.
  private agentFor(url: URL, addresses: ResolvedAddress[]): http.Agent {
    const key = `${url.origin}|${addresses.map((a) => a.address).join(",")}`;
    const kept = this.agents.get(key);
    if (kept) {
      // Most recently used last.
      this.agents.delete(key);
      this.agents.set(key, kept);
      return kept;
    }
    const options = { ...keptAliveAgentOptions, lookup: pinnedLookup(addresses) };
    const agent = url.protocol === "https:" ? new https.Agent(options) : new http.Agent(options);
    this.agents.set(key, agent);
    if (this.agents.size > maxKeptOrigins) this.agents.delete(this.agents.keys().next().value!);
    return agent;
  }

  // Closes every kept connection.
  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }

  // The host's addresses when every one of them may be delivered to, or why not.
  private async vettedAddresses(hostname: string, deadline: AbortSignal): Promise<ResolvedAddress[] | string> {
    const host = hostname.replace(/^\[(.*)\]$/, "$1");
    try {
      const vetted = await vetDestination(host, this.allowList, deadline);
      if ("refused" in vetted) return vetted.refused;
      if (vetted.addresses.length === 0) return `${host} resolves to no address`;
      return vetted.addresses;
    } catch (err) {
      if (deadline.aborted) throw err;
      return `could not resolve ${host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    }
  }
}

// How to receive events on one's own machine or network instead.
const toReceiveLocally =
  ". To receive events on this machine, run `npx onerouter listen --forward-to <your URL>` (no endpoint needed), " +
  "or let the server deliver there by listing the range in ONEROUTER_WEBHOOK_ALLOWED_CIDRS (`onerouter dev` allows loopback)";

// Why an endpoint's URL may not receive webhooks, or undefined when it may.
// Called when an endpoint is created or updated; the reason reads after the
// field name ("url must use https:// in the live environment"). A host name is
// checked again, after resolution, at every delivery.
export function validateEndpointUrl(
  url: string,
  environment: EndpointEnvironment,
  allowedCidrs: readonly string[],
): string | undefined {
  const checked = checkUrl(url, environment);
  if (typeof checked === "string") return checked;
  const host = checked.hostname.replace(/^\[(.*)\]$/, "$1");
  // "localhost" and its subdomains always mean this host (RFC 6761).
  const addresses = parseIp(host) ? [host] : /(^|\.)localhost\.?$/i.test(host) ? ["127.0.0.1", "::1"] : [];
  const allowList = allowedCidrs.map(parseCidr);
  for (const address of addresses) {
    const forbidden = forbiddenDestination(address, allowList);
    if (forbidden !== undefined) return `points to ${address}, ${forbidden}; webhooks go to public addresses only${toReceiveLocally}`;
  }
  return undefined;
}

function checkUrl(raw: string, environment: EndpointEnvironment): URL | string {
  const url = httpUrl(raw);
  if (typeof url === "string") return url;
  if (environment === "live" && url.protocol !== "https:") return "must use https:// in the live environment";
  return url;
}

interface Answer {
  statusCode: number;
  responseBody: string;
  retryAfter?: string;
  location?: string;
}

// A kept connection the endpoint closed as it was reused fails before any
// answer; the POST is then sent once more on a fresh connection (a repeat is
// harmless: delivery is at least once and webhook-id names the event).
async function send(
  url: URL,
  agent: http.Agent,
  addresses: ResolvedAddress[],
  request: WebhookPost,
  deadline: AbortSignal,
): Promise<Answer> {
  try {
    return await sendOnce(url, agent, addresses, request, deadline);
  } catch (err) {
    if (!(err instanceof ReusedConnectionClosed)) throw err;
    if (deadline.aborted) throw err.cause;
    return sendOnce(url, false, addresses, request, deadline);
  }
}

class ReusedConnectionClosed extends Error {}

function sendOnce(
  url: URL,
  agent: http.Agent | false,
  addresses: ResolvedAddress[],
  request: WebhookPost,
  deadline: AbortSignal,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = (url.protocol === "https:" ? https : http).request(
      url,
      {
        method: "POST",
        headers: copyWith(request.headers, { "content-length": Buffer.byteLength(request.body).toString() }),
        agent,
        lookup: pinnedLookup(addresses),
        signal: deadline,
      },
      (response) => {
        const kept: Buffer[] = [];
        let keptBytes = 0;
        const finish = () =>
          resolve({
            statusCode: response.statusCode ?? 0,
            // Postgres text cannot hold NUL.
            responseBody: Buffer.concat(kept).toString("utf8").replaceAll("\u0000", ""),
            retryAfter: response.headers["retry-after"],
            location: response.headers.location,
          });
        response.on("data", (chunk: Buffer) => {
          if (keptBytes < maxResponseBodyBytes) {
            const part = chunk.subarray(0, maxResponseBodyBytes - keptBytes);
            kept.push(part);
            keptBytes += part.length;
          }
          // Enough kept: the rest is not worth downloading.
          if (keptBytes >= maxResponseBodyBytes) {
            finish();
            response.destroy();
          }
        });
        response.on("end", finish);
        response.on("error", reject);
      },
    );
    outgoing.on("error", (err: NodeJS.ErrnoException) => {
      reject(closedOnReuse(outgoing, err) ? new ReusedConnectionClosed(err.message, { cause: err }) : err);
    });
    outgoing.end(request.body);
  });
}

function describeNetworkError(err: unknown): string {
  const error = err as NodeJS.ErrnoException & { errors?: Error[] };
  // Trying several addresses fails with one error per address and no message of its own.
  const message = error.message || (error.errors ?? []).map((e) => e.message).join("; ");
  // Node's messages mostly name the code ("connect ECONNREFUSED 1.2.3.4:443").
  return error.code && !message.includes(error.code) ? `${error.code}: ${message}` : message;
}
