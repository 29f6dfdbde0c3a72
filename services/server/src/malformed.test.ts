import http from "node:http";
import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestOneRouter, type TestOneRouter } from "../test/index";

// Bad bodies are the caller's mistake: they get INVALID_ARGUMENT or
// RESOURCE_EXHAUSTED with an ErrorInfo saying why, never a 500, and the
// server keeps serving.

const path = "/onerouter.admin.v1.ApiKeyService/ListApiKeys";

describe("malformed requests", () => {
  let app: TestOneRouter;
  let auth: string;
  beforeAll(async () => {
    app = await startTestOneRouter({ env: { ONEROUTER_MAX_REQUEST_BYTES: "4096" } });
    auth = `Bearer ${(await app.createKey()).secret}`;
  });
  afterAll(async () => app?.close());

  async function post(body: string | Buffer, contentType: string, headers: Record<string, string> = {}, to = path) {
    const res = await fetch(app.baseUrl + to, {
      method: "POST",
      headers: { "content-type": contentType, authorization: auth, ...headers },
      body: typeof body === "string" ? body : new Uint8Array(body),
    });
    return { status: res.status, body: await res.text() };
  }

  // The Connect error body's code, ErrorInfo reason and metadata.
  function typed(body: string) {
    const error = JSON.parse(body) as { code: string; message: string; details?: { type: string; debug?: { reason: string; metadata: Record<string, string> } }[] };
    const info = error.details?.find((d) => d.type === "google.rpc.ErrorInfo")?.debug;
    return { code: error.code, reason: info?.reason, metadata: info?.metadata ?? {}, message: error.message };
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

  it("names the decode failure MALFORMED_REQUEST, with the field where it is known", async () => {
    const badJson = await post("{not json", "application/json");
    expect(typed(badJson.body)).toMatchObject({ code: "invalid_argument", reason: "MALFORMED_REQUEST" });
    const wrongType = typed((await post(JSON.stringify({ pageSize: "many" }), "application/json")).body);
    expect(wrongType).toMatchObject({ code: "invalid_argument", reason: "MALFORMED_REQUEST" });
    expect(wrongType.metadata.field).toBe("page_size");
    const truncated = await post(Buffer.from([0x12, 0x0a, 0x61, 0x62]), "application/proto");
    expect(typed(truncated.body)).toMatchObject({ code: "invalid_argument", reason: "MALFORMED_REQUEST" });
  });

  it("types what Connect refuses before decoding: media type, HTTP method, compression, timeout, size", async () => {
    expect(typed((await post("{}", "text/plain")).body)).toMatchObject({ code: "invalid_argument", reason: "UNSUPPORTED_MEDIA_TYPE" });
    const get = await fetch(app.baseUrl + path, { headers: { authorization: auth } });
    expect(typed(await get.text())).toMatchObject({ code: "invalid_argument", reason: "HTTP_METHOD_NOT_ALLOWED" });
    // Also a complete Connect GET of a method declared NO_SIDE_EFFECTS: every call is a POST.
    const connectGet = await fetch(`${app.baseUrl}${path}?connect=v1&encoding=json&message=%7B%7D`, { headers: { authorization: auth } });
    expect(typed(await connectGet.text())).toMatchObject({ code: "invalid_argument", reason: "HTTP_METHOD_NOT_ALLOWED" });
    expect(typed((await post("{}", "application/json", { "content-encoding": "gzip" })).body)).toMatchObject({
      code: "invalid_argument",
      reason: "UNSUPPORTED_COMPRESSION",
    });
    expect(typed((await post("{}", "application/json", { "connect-timeout-ms": "soon" })).body)).toMatchObject({
      code: "invalid_argument",
      reason: "INVALID_TIMEOUT",
    });
    const oversize = await post(JSON.stringify({ pageToken: "x".repeat(10_000) }), "application/json");
    expect(typed(oversize.body)).toMatchObject({ code: "resource_exhausted", reason: "REQUEST_TOO_LARGE" });
  });

  it("refuses a NUL character in any string field, naming it, before the database sees it", async () => {
    const res = await post(JSON.stringify({ id: "key_\u0000" }), "application/json", {}, "/onerouter.admin.v1.ApiKeyService/RevokeApiKey");
    expect(res.status).toBe(400);
    expect(typed(res.body)).toMatchObject({ code: "invalid_argument", reason: "INVALID_FIELD", metadata: { field: "id" } });
  });

  it("answers an unknown path with a typed 404", async () => {
    const res = await post("{}", "application/json", {}, "/onerouter.admin.v1.ApiKeyService/NoSuchMethod");
    expect(res.status).toBe(404);
    expect(typed(res.body)).toMatchObject({ code: "unimplemented", reason: "METHOD_NOT_FOUND" });
  });

  it("answers a malformed percent-encoding in an inbound webhook path with a 400", async () => {
    for (const bad of ["%E0%A4%A", "%zz", "acct%00x"]) {
      const res = await fetch(`${app.baseUrl}/webhooks/inbound/stripe/${bad}`, { method: "POST", body: "{}" });
      expect(res.status, bad).toBeGreaterThanOrEqual(400);
      expect(res.status, bad).toBeLessThan(500);
    }
  });

  // A Host header as given, which fetch would not send.
  function postWithHost(host: string) {
    return new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(app.baseUrl + path, {
        method: "POST",
        setHost: false,
        headers: { host, "content-type": "application/json", authorization: auth },
      });
      req.on("response", (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      req.end("{}");
    });
  }

  it("refuses a Host no URL can hold as INVALID_HOST naming the header, where it was a 500", async () => {
    for (const host of ["a b", "[::1", "example.com:99999", "999.0.0.1", "user@example.com", "example.com/x", "example.com?x", ""]) {
      const res = await postWithHost(host);
      expect(res.status, host).toBe(400);
      expect(typed(res.body), host).toMatchObject({ code: "invalid_argument", reason: "INVALID_HOST", metadata: { header: "host", value: host } });
    }
    for (const host of ["localhost", "127.0.0.1:4000", "[::1]:4000", "api_1.internal", "API.example.com."]) {
      expect((await postWithHost(host)).status, host).toBe(200);
    }
  });

  it("refuses such an :authority over HTTP/2 in gRPC's own terms", async () => {
    const session = http2.connect(app.baseUrl);
    try {
      // An IPv4 address out of range: HTTP/2's own checks let it through, the URL parser does not.
      const stream = session.request({ ":method": "POST", ":path": path, ":authority": "999.0.0.1", "content-type": "application/grpc", te: "trailers", authorization: auth });
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
      const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        stream.on("trailers", resolve);
        stream.on("data", () => undefined);
        stream.on("error", reject);
      });
      expect(trailers["grpc-status"]).toBe("3");
      expect(decodeURIComponent(String(trailers["grpc-message"]))).toContain(':authority "999.0.0.1"');
    } finally {
      session.close();
    }
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
