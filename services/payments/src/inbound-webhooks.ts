import type http from "node:http";
import type http2 from "node:http2";
import type { HttpRoute } from "@onerouter/core";
import { WebhookRejected, type PaymentEngine } from "./engine";

// POST /webhooks/inbound/<provider>/<providerAccountId>: where each payment
// provider account's webhooks arrive. The provider's signature is checked
// against that account's credentials; 200 means stored (or already stored)
// and applied, so the provider stops retrying; anything else it retries.

const maxBodyBytes = 1024 * 1024;

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

export function inboundPaymentWebhookRoutes(engine: PaymentEngine): HttpRoute[] {
  return engine.providerDescriptors().map(({ name: provider }) => {
    const pathPrefix = `/webhooks/inbound/${provider}/`;
    return {
      pathPrefix,
      async handler(req, res) {
        const path = (req.url ?? "/").split("?")[0] ?? "/";
        const accountId = decodeURIComponent(path.slice(pathPrefix.length));
        if (accountId === "" || accountId.includes("/")) return reply(res, 404, { error: "no such provider account" });
        if (req.method !== "POST") return reply(res, 405, { error: "webhooks are POSTed" });
        const rawBody = await readBody(req);
        if (!rawBody) return reply(res, 413, { error: `the body exceeds ${maxBodyBytes} bytes` });
        try {
          const outcome = await engine.receiveWebhook(provider, accountId, { rawBody, headers: plainHeaders(req), url: fullUrl(req) });
          reply(res, 200, { received: true, duplicate: outcome === "duplicate" });
        } catch (err) {
          if (!(err instanceof WebhookRejected)) throw err;
          reply(res, err.status, { error: err.message });
        }
      },
    };
  });
}

async function readBody(req: Request): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

// Lower-cased names (Node gives them so), HTTP/2 pseudo-headers left out.
function plainHeaders(req: Request): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(":") || value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return headers;
}

// The URL as the provider called it, for schemes that sign it.
function fullUrl(req: Request): string {
  const proto = String(req.headers["x-forwarded-proto"] ?? "http").split(",")[0]!.trim();
  const host = req.headers.host ?? req.headers[":authority"] ?? "localhost";
  return `${proto}://${String(host)}${req.url ?? "/"}`;
}

function reply(res: Response, status: number, body: object): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
