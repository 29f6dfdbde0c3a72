import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "./logging";
import { createMetrics } from "./metrics";
import { startServer, type RunningServer } from "./server";

const allowed = "https://app.example.com";
const check = "/grpc.health.v1.Health/Check";

// The server alone, with only its health service; `corsOrigins` as configured.
function startCorsServer(corsOrigins: string[] | undefined): Promise<RunningServer> {
  return startServer({
    host: "127.0.0.1",
    port: 0,
    logger: createLogger("silent"),
    metrics: createMetrics(),
    routes: () => undefined,
    interceptors: [],
    maxRequestBytes: 1 << 20,
    readiness: async () => undefined,
    shutdownGraceMs: 0,
    ...(corsOrigins && { corsOrigins }),
  });
}

// Real requests on a real port, as a browser on another origin sends them.
describe("CORS", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startCorsServer([allowed, "http://localhost:5173"]);
  });
  afterAll(async () => server?.close());

  const preflight = (origin: string, requestHeaders: string) =>
    fetch(server.url + check, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": requestHeaders },
    });

  it("answers a preflight from an allowed origin with what Connect and gRPC-Web send", async () => {
    for (const requestHeaders of [
      "authorization,connect-protocol-version,content-type,idempotency-key",
      "authorization,content-type,x-grpc-web,x-user-agent,grpc-timeout",
    ]) {
      const res = await preflight(allowed, requestHeaders);
      expect(res.status).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe(allowed);
      expect(res.headers.get("access-control-allow-credentials")).toBeNull();
      expect(res.headers.get("vary")).toMatch(/origin/i);
      expect(res.headers.get("access-control-allow-methods")?.split(/,\s*/)).toEqual(expect.arrayContaining(["POST", "GET"]));
      const allowedHeaders = res.headers.get("access-control-allow-headers")!.toLowerCase().split(/,\s*/);
      expect(allowedHeaders).toEqual(expect.arrayContaining(requestHeaders.split(",")));
      expect(Number(res.headers.get("access-control-max-age"))).toBeGreaterThan(0);
    }
  });

  it("gives a Connect call from an allowed origin its CORS headers", async () => {
    const res = await fetch(server.url + check, {
      method: "POST",
      headers: { origin: "http://localhost:5173", "content-type": "application/json", "connect-protocol-version": "1" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "SERVING" });
    expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    expect(res.headers.get("vary")).toMatch(/origin/i);
    const exposed = res.headers.get("access-control-expose-headers")!.toLowerCase().split(/,\s*/);
    expect(exposed).toEqual(
      expect.arrayContaining(["grpc-status-details-bin", "idempotent-replayed", "retry-after", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"]),
    );
  });

  it("gives a gRPC-Web call from an allowed origin its CORS headers, gRPC status exposed", async () => {
    const res = await fetch(server.url + check, {
      method: "POST",
      headers: { origin: allowed, "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
      body: new Uint8Array([0, 0, 0, 0, 0]),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(allowed);
    const exposed = res.headers.get("access-control-expose-headers")!.toLowerCase().split(/,\s*/);
    expect(exposed).toEqual(expect.arrayContaining(["grpc-status", "grpc-message", "grpc-status-details-bin"]));
    expect(Buffer.from(await res.arrayBuffer()).toString("latin1")).toMatch(/grpc-status: ?0\r\n/);
  });

  it("gives other origins no CORS headers, and never a wildcard", async () => {
    for (const origin of ["https://evil.example.com", "https://app.example.com.evil.example", "null", "HTTPS://APP.EXAMPLE.COM"]) {
      const pre = await preflight(origin, "authorization,content-type");
      const call = await fetch(server.url + check, {
        method: "POST",
        headers: { origin, "content-type": "application/json" },
        body: "{}",
      });
      for (const res of [pre, call]) {
        expect(res.headers.get("access-control-allow-origin"), origin).toBeNull();
        expect(res.headers.get("access-control-allow-headers"), origin).toBeNull();
        expect(res.headers.get("access-control-expose-headers"), origin).toBeNull();
      }
      // The answer depends on Origin, so caches must not share it across origins.
      expect(call.headers.get("vary")).toMatch(/origin/i);
    }
  });
});

describe("CORS by default", () => {
  it("allows no origin", async () => {
    const server = await startCorsServer(undefined);
    try {
      const res = await fetch(server.url + check, {
        method: "OPTIONS",
        headers: { origin: allowed, "access-control-request-method": "POST" },
      });
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
    } finally {
      await server.close();
    }
  });
});
