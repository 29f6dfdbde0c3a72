import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestOneRouter, type TestOneRouter } from "./testing";

// Bad bodies are the caller's mistake: they get INVALID_ARGUMENT or
// RESOURCE_EXHAUSTED, never a 500, and the server keeps serving.

const path = "/onerouter.admin.v1.ApiKeyService/ListApiKeys";

describe("malformed requests", () => {
  let app: TestOneRouter;
  let auth: string;
  beforeAll(async () => {
    app = await startTestOneRouter({ env: { ONEROUTER_MAX_REQUEST_BYTES: "4096" } });
    auth = `Bearer ${(await app.createKey()).secret}`;
  });
  afterAll(async () => app?.close());

  async function post(body: string | Buffer, contentType: string) {
    const res = await fetch(app.baseUrl + path, {
      method: "POST",
      headers: { "content-type": contentType, authorization: auth },
      body: typeof body === "string" ? body : new Uint8Array(body),
    });
    return { status: res.status, body: await res.text() };
  }

  it("rejects bad JSON", async () => {
    const res = await post("{not json", "application/json");
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).code).toBe("invalid_argument");
  });

  it("rejects wrong field types", async () => {
    const res = await post(JSON.stringify({ pageSize: "many" }), "application/json");
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).code).toBe("invalid_argument");
  });

  it("rejects a truncated protobuf body", async () => {
    // Field 2 (page_token), length 10, but only 2 bytes follow.
    const res = await post(Buffer.from([0x12, 0x0a, 0x61, 0x62]), "application/proto");
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).code).toBe("invalid_argument");
  });

  it("rejects a negative page size, naming the field", async () => {
    const res = await post(JSON.stringify({ pageSize: -1 }), "application/json");
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).message).toContain("page_size");
  });

  it("rejects an oversize body", async () => {
    const res = await post(JSON.stringify({ pageToken: "x".repeat(10_000) }), "application/json");
    expect(res.status).toBe(429);
    expect(JSON.parse(res.body).code).toBe("resource_exhausted");
  });

  it("rejects a truncated gRPC frame over HTTP/2", async () => {
    const session = http2.connect(app.baseUrl);
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
        authorization: auth,
      });
      // Frame header says 100 bytes; 3 are sent.
      stream.end(Buffer.from([0, 0, 0, 0, 100, 0x12, 0x01, 0x61]));
      const grpcStatus = await new Promise<string | undefined>((resolve, reject) => {
        let status: string | undefined;
        stream.on("response", (headers) => (status ??= headers["grpc-status"] as string | undefined));
        stream.on("trailers", (trailers) => (status = trailers["grpc-status"] as string | undefined));
        stream.on("data", () => undefined);
        stream.on("end", () => resolve(status));
        stream.on("error", reject);
      });
      expect(grpcStatus).toBe("3");
    } finally {
      session.close();
    }
  });

  it("keeps serving afterwards", async () => {
    const res = await post("{}", "application/json");
    expect(res.status).toBe(200);
    expect((await fetch(`${app.baseUrl}/healthz`)).status).toBe(200);
  });
});
