import http from "node:http";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { createClient, createContextValues } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponseSchema, HealthCheckResponse_ServingStatus as ServingStatus } from "@onerouter/client/gen/health/v1/health_pb";
import { createRpcHandler } from "./rpc-handler";

// The handler's signal over HTTP/1.1: aborted when the client goes away
// mid-call, so a stream's resources are let go.

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
            throw new Error("not called");
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
});
