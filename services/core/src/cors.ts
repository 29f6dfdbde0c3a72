import type http from "node:http";
import type http2 from "node:http2";
import { cors as connectCors } from "@connectrpc/connect";
import { idempotencyKeyHeader, idempotentReplayedHeader } from "./idempotency";

// CORS for browsers on the origins listed in ONEROUTER_CORS_ORIGINS, matched
// exactly. Connect's lists name what its protocols send and read; OneRouter
// adds its own headers. The origin is echoed, never "*", and no credentials
// are allowed: API keys travel in Authorization, not cookies.

const allowedMethods = connectCors.allowedMethods.join(", ");
// OneRouter-Environment: a console session's choice of environment per call.
const allowedHeaders = [...connectCors.allowedHeaders, "Authorization", idempotencyKeyHeader, "OneRouter-Environment"].join(", ");
const exposedHeaders = [
  ...connectCors.exposedHeaders,
  idempotentReplayedHeader,
  "Retry-After",
  "RateLimit-Limit",
  "RateLimit-Remaining",
  "RateLimit-Reset",
  "Server-Timing",
].join(", ");
// Browsers cap this (Chromium at 2 h); it spares a preflight per call.
const preflightMaxAgeSeconds = "7200";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

// Sets the CORS headers a request gets; true when it was a preflight, now answered.
export type CorsHandler = (req: Request, res: Response) => boolean;

export function createCors(origins: string[]): CorsHandler {
  const allowed = new Set(origins);
  return (req, res) => {
    if (allowed.size === 0) return false;
    // Whether CORS headers are sent depends on Origin: caches must key on it.
    res.setHeader("Vary", "Origin");
    const origin = req.headers.origin;
    if (typeof origin !== "string" || !allowed.has(origin)) return false;
    res.setHeader("Access-Control-Allow-Origin", origin);
    if (req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined) {
      res.writeHead(204, {
        "Access-Control-Allow-Methods": allowedMethods,
        "Access-Control-Allow-Headers": allowedHeaders,
        "Access-Control-Max-Age": preflightMaxAgeSeconds,
      });
      res.end();
      return true;
    }
    res.setHeader("Access-Control-Expose-Headers", exposedHeaders);
    return false;
  };
}
