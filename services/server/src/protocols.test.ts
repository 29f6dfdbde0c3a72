import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { createClient, ConnectError, Code } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import protobuf from "protobufjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeyService } from "@onerouter/client/gen/onerouter/admin/v1/api_keys_pb";
import { ErrorInfoSchema } from "@onerouter/client/gen/google/rpc/error_details_pb";
import { describeEachEngine } from "@onerouter/core/testing";
import { grpcApiKeyClient, startTestOneRouter, type TestOneRouter } from "../test/index";

// The same call over every protocol the port speaks, each made by a client
// that shares no code with the server's generated types where it matters:
// grpc-js is built from the .proto files at test time with proto-loader.

const repoRoot = path.resolve(import.meta.dirname, "../../..");
const googleProtos = path.join(repoRoot, "node_modules/google-proto-files");

// Decodes grpc-status-details-bin (google.rpc.Status with Any details) with
// protobufjs from Google's own .proto files.
// A grpc-js client of grpc.health.v1 from the proto grpc-health-check ships.
function healthClient(port: number): grpc.Client {
  const definition = protoLoader.loadSync("health/v1/health.proto", {
    includeDirs: [path.join(repoRoot, "node_modules/grpc-health-check/proto")],
    enums: String,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  return new pkg.grpc.health.v1.Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

function decodeErrorInfo(err: grpc.ServiceError) {
  const root = protobuf.loadSync([
    path.join(googleProtos, "google/rpc/status.proto"),
    path.join(googleProtos, "google/rpc/error_details.proto"),
  ]);
  const Status = root.lookupType("google.rpc.Status");
  const ErrorInfo = root.lookupType("google.rpc.ErrorInfo");
  const raw = err.metadata.get("grpc-status-details-bin")[0];
  if (!raw) throw new Error("no grpc-status-details-bin trailer");
  const status = Status.decode(raw as Buffer) as unknown as { code: number; details: { type_url: string; value: Uint8Array }[] };
  const detail = status.details.find((d) => d.type_url.endsWith("google.rpc.ErrorInfo"));
  if (!detail) throw new Error("no ErrorInfo in status details");
  return { code: status.code, info: ErrorInfo.toObject(ErrorInfo.decode(detail.value)) as { reason: string; domain: string; metadata: Record<string, string> } };
}

function unary<Req, Res>(client: grpc.Client, method: string, request: Req, metadata: grpc.Metadata): Promise<Res> {
  return new Promise((resolve, reject) => {
    (client as unknown as Record<string, Function>)[method]!(request, metadata, (err: grpc.ServiceError | null, res: Res) =>
      err ? reject(err) : resolve(res),
    );
  });
}

describeEachEngine("one port, every protocol", (engine) => {
  let app: TestOneRouter;
  let key: { id: string; secret: string };
  let grpcClient: grpc.Client;

  beforeAll(async () => {
    app = await startTestOneRouter({ engine });
    key = await app.createKey();
    grpcClient = grpcApiKeyClient(app.server.port);
  });
  afterAll(async () => {
    grpcClient?.close();
    await app?.close();
  });

  const auth = (secret: string) => {
    const md = new grpc.Metadata();
    md.set("authorization", `Bearer ${secret}`);
    return md;
  };

  it("answers grpc-js over HTTP/2", async () => {
    const res = await unary<object, { api_keys: { id: string; environment: string }[] }>(
      grpcClient,
      "ListApiKeys",
      {},
      auth(key.secret),
    );
    expect(res.api_keys.map((k) => k.id)).toContain(key.id);
    expect(res.api_keys[0]?.environment).toBe("ENVIRONMENT_TEST");
  });

  it("sends a typed gRPC error with ErrorInfo in grpc-status-details-bin", async () => {
    const err = (await unary(grpcClient, "RevokeApiKey", { id: "key_missing" }, auth(key.secret)).catch(
      (e: grpc.ServiceError) => e,
    )) as grpc.ServiceError;
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    const { code, info } = decodeErrorInfo(err);
    expect(code).toBe(grpc.status.NOT_FOUND);
    expect(info.reason).toBe("RESOURCE_NOT_FOUND");
    expect(info.domain).toBe("onerouter.dev");
    expect(info.metadata.id).toBe("key_missing");
  });

  it("reaches grpc-js users with a readable message and a typed error for bad input", async () => {
    const err = (await unary(grpcClient, "ListApiKeys", { page_size: -1 }, auth(key.secret)).catch((e: grpc.ServiceError) => e)) as grpc.ServiceError;
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    // Reserved characters such as ":" arrive as written, not percent-encoded.
    expect(err.details).toMatch(/^page_size: /);
    expect(decodeErrorInfo(err).info.metadata.field).toBe("page_size");
  });

  it("keeps an error that echoes a huge value within what grpc-js accepts", async () => {
    const id = `key_${"x".repeat(20_000)}`;
    const err = (await unary(grpcClient, "RevokeApiKey", { id }, auth(key.secret)).catch((e: grpc.ServiceError) => e)) as grpc.ServiceError;
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    expect(decodeErrorInfo(err).info.reason).toBe("RESOURCE_NOT_FOUND");
  });

  it("answers an unknown method UNIMPLEMENTED with an ErrorInfo on gRPC and gRPC-Web", async () => {
    const err = (await new Promise<grpc.ServiceError>((resolve) =>
      grpcClient.makeUnaryRequest(
        "/onerouter.admin.v1.ApiKeyService/NoSuchMethod",
        (x: Buffer) => x,
        (x: Buffer) => x,
        Buffer.alloc(0),
        auth(key.secret),
        (e) => resolve(e as grpc.ServiceError),
      ),
    )) as grpc.ServiceError;
    expect(err.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(decodeErrorInfo(err).info.reason).toBe("METHOD_NOT_FOUND");

    const web = await fetch(`${app.baseUrl}/onerouter.admin.v1.ApiKeyService/NoSuchMethod`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
      body: new Uint8Array(5),
    });
    expect(web.status).toBe(200);
    const trailer = Buffer.from(await web.arrayBuffer()).subarray(5).toString("utf8");
    expect(trailer).toMatch(/grpc-status: ?12/);
    expect(trailer).toMatch(/grpc-status-details-bin/);
  });

  it("answers NOT_FOUND for the health of a service it does not have", async () => {
    const health = healthClient(app.server.port);
    try {
      const known = await unary<object, { status: string }>(health, "Check", { service: "onerouter.payments.v1.PaymentService" }, new grpc.Metadata());
      expect(known.status).toBe("SERVING");
      const err = (await unary(health, "Check", { service: "no.such.v1.Service" }, new grpc.Metadata()).catch((e: grpc.ServiceError) => e)) as grpc.ServiceError;
      expect(err.code).toBe(grpc.status.NOT_FOUND);
    } finally {
      health.close();
    }
  });

  it("answers Connect JSON over HTTP/1.1 with fetch", async () => {
    const res = await fetch(`${app.baseUrl}/onerouter.admin.v1.ApiKeyService/ListApiKeys`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key.secret}` },
      body: "{}",
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { apiKeys: { id: string }[] };
    expect(body.apiKeys.map((k) => k.id)).toContain(key.id);

    const missing = await fetch(`${app.baseUrl}/onerouter.admin.v1.ApiKeyService/RevokeApiKey`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key.secret}` },
      body: JSON.stringify({ id: "key_missing" }),
    });
    expect(missing.status).toBe(404);
    const error = (await missing.json()) as { code: string; details: { type: string; debug: { reason: string } }[] };
    expect(error.code).toBe("not_found");
    expect(error.details[0]?.type).toBe("google.rpc.ErrorInfo");
    expect(error.details[0]?.debug.reason).toBe("RESOURCE_NOT_FOUND");
  });

  it("answers gRPC-Web", async () => {
    const client = createClient(
      ApiKeyService,
      createGrpcWebTransport({ baseUrl: app.baseUrl, interceptors: [(next) => (req) => {
        req.header.set("authorization", `Bearer ${key.secret}`);
        return next(req);
      }] }),
    );
    const res = await client.listApiKeys({});
    expect(res.apiKeys.map((k) => k.id)).toContain(key.id);
    const err = await client.revokeApiKey({ id: "key_missing" }).catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.NotFound);
    expect((err as ConnectError).findDetails(ErrorInfoSchema)[0]?.reason).toBe("RESOURCE_NOT_FOUND");
  });

  // platform;dur=1.2, provider;dur=30.5 → { platform: 1.2, provider: 30.5 }
  function serverTiming(value: string | null | undefined): Record<string, number> {
    expect(value).toMatch(/^platform;dur=\d+\.\d, provider;dur=\d+\.\d$/);
    return Object.fromEntries(value!.split(", ").map((part) => [part.split(";")[0], Number(part.split("dur=")[1])]));
  }

  it("says in Server-Timing how much of an answer was the provider's time and how much the platform's", async () => {
    const call = (method: string, body: object) =>
      fetch(`${app.baseUrl}/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${key.secret}` },
        body: JSON.stringify(body),
      });
    const paid = await call("onerouter.payments.v1.PaymentService/CreatePayment", { amount: "1500", currency: "USD" });
    expect(paid.status).toBe(200);
    const payment = serverTiming(paid.headers.get("server-timing"));
    expect(payment.provider).toBeGreaterThan(0);
    expect(payment.platform).toBeGreaterThan(0);

    const listed = await call("onerouter.admin.v1.ApiKeyService/ListApiKeys", {});
    expect(serverTiming(listed.headers.get("server-timing")).provider).toBe(0);
    const refused = await call("onerouter.admin.v1.ApiKeyService/RevokeApiKey", { id: "key_missing" });
    expect(refused.status).toBe(404);
    serverTiming(refused.headers.get("server-timing"));

    // gRPC: in the headers and in the trailers.
    const { headers, trailers } = await new Promise<{ headers: grpc.Metadata; trailers: grpc.Metadata }>((resolve, reject) => {
      let headers: grpc.Metadata | undefined;
      const pending = (grpcClient as unknown as Record<string, Function>).ListApiKeys!({}, auth(key.secret), (err: Error | null) => err && reject(err));
      pending.on("metadata", (md: grpc.Metadata) => (headers = md));
      pending.on("status", (status: grpc.StatusObject) => resolve({ headers: headers!, trailers: status.metadata }));
    });
    serverTiming(headers.get("server-timing")[0] as string);
    serverTiming(trailers.get("server-timing")[0] as string);
  });

  it("serves grpc.health.v1 without a key, and the HTTP probes", async () => {
    const health = healthClient(app.server.port);
    try {
      const res = await unary<object, { status: string }>(health, "Check", { service: "" }, new grpc.Metadata());
      expect(res.status).toBe("SERVING");
    } finally {
      health.close();
    }
    expect((await fetch(`${app.baseUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${app.baseUrl}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${app.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/onerouter_rpc_requests_total\{service="onerouter.admin.v1.ApiKeyService",method="ListApiKeys",code="ok"\} [1-9]/);
  });
});

describe("proto-loader sees the same contract", () => {
  it("loads every service definition", () => {
    const files = [
      "onerouter/payments/v1/payments.proto",
      "onerouter/messaging/v1/messaging.proto",
      "onerouter/webhooks/v1/webhooks.proto",
      "onerouter/admin/v1/provider_accounts.proto",
    ];
    const definition = protoLoader.loadSync(files, { includeDirs: [path.join(repoRoot, "proto")] });
    expect(Object.keys(definition)).toEqual(
      expect.arrayContaining([
        "onerouter.payments.v1.PaymentService",
        "onerouter.messaging.v1.MessagingService",
        "onerouter.webhooks.v1.WebhookService",
        "onerouter.admin.v1.ProviderAccountService",
      ]),
    );
  });
});
