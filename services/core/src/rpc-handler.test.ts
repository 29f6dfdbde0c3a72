import http from "node:http";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createContextValues } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponseSchema, HealthCheckResponse_ServingStatus as ServingStatus } from "@onerouter/client/gen/health/v1/health_pb";
import { createRpcHandler } from "./rpc-handler";

// The handler's signal over HTTP/1.1: aborted when the client goes away
// mid-call, so a stream's resources are let go. Errors whose message gRPC
// cannot carry as it is are answered all the same.

describe("createRpcHandler over HTTP/1.1", () => {
  const watchesEnded: (() => void)[] = [];
  let server: http.Server;
  let baseUrl: string;

  beforeAll(async () => {
    const handler = createRpcHandler({
      routes: (router) =>
        router.service(Health, {
          async check() {
            return create(HealthCheckResponseSchema, { status: ServingStatus.SERVING });
          },
          async *watch(_req, ctx) {
            yield create(HealthCheckResponseSchema, { status: ServingStatus.SERVING });
            await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
            watchesEnded.shift()?.();
          },
          async list() {
            // A message echoing a lone surrogate, as one from a request's JSON would.
            throw new ConnectError("no list for \ud800", Code.InvalidArgument);
          },
        }),
      interceptors: [],
      readMaxBytes: 1 << 20,
      contextValues: () => createContextValues(),
    });
    server = http.createServer((req, res) => void handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("aborts a stream's signal when its client goes away, and answers unary calls on the same connection", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const client = createClient(Health, createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: { agent } }));
    try {
      expect((await client.check({})).status).toBe(ServingStatus.SERVING);
      expect((await client.check({})).status).toBe(ServingStatus.SERVING);
      const ended = new Promise<void>((resolve) => watchesEnded.push(resolve));
      const gone = new AbortController();
      const stream = client.watch({}, { signal: gone.signal })[Symbol.asyncIterator]();
      expect((await stream.next()).value?.status).toBe(ServingStatus.SERVING);
      gone.abort();
      await ended;
    } finally {
      agent.destroy();
    }
  });

  it("answers an error whose message holds a lone surrogate, with U+FFFD in its place", async () => {
    const res = await fetch(`${baseUrl}/grpc.health.v1.Health/List`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto" },
      body: new Uint8Array(5),
      signal: AbortSignal.timeout(5000),
    });
    const trailer = Buffer.from(await res.arrayBuffer()).subarray(5).toString("latin1");
    expect(trailer).toContain("grpc-status: 3");
    expect(trailer).toContain("grpc-message: no%20list%20for%20%EF%BF%BD");
  });
});
