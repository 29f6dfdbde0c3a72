import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema, RetryInfoSchema } from "./gen/google/rpc/error_details_pb";
import { PaymentService } from "./gen/onerouter/payments/v1/payments_pb";
import { createOneRouterClient, errorInfo, type Protocol } from "./index";

interface SeenCall {
  method: string;
  description: string;
  authorization: string | undefined;
  idempotencyKey: string | undefined;
}

const seen: SeenCall[] = [];
const handler = connectNodeAdapter({
  routes(router) {
    router.service(PaymentService, {
      createPayment(req, ctx) {
        seen.push({
          method: "CreatePayment",
          description: req.description,
          authorization: ctx.requestHeader.get("Authorization") ?? undefined,
          idempotencyKey: ctx.requestHeader.get("Idempotency-Key") ?? undefined,
        });
        const attempts = seen.filter((c) => c.description === req.description).length;
        if (req.description.startsWith("flaky") && attempts === 1) {
          throw new ConnectError("provider unreachable", Code.Unavailable, undefined, [
            { desc: RetryInfoSchema, value: { retryDelay: { nanos: 10_000_000 } } },
          ]);
        }
        if (req.description.startsWith("declined")) {
          throw new ConnectError("card declined", Code.FailedPrecondition, undefined, [
            {
              desc: ErrorInfoSchema,
              value: { reason: "PROVIDER_DECLINED", domain: "onerouter.dev", metadata: { decline_code: "insufficient_funds" } },
            },
          ]);
        }
        return { payment: { id: `pay_${attempts}`, amount: req.amount, currency: req.currency, description: req.description } };
      },
      getPayment(req, ctx) {
        seen.push({
          method: "GetPayment",
          description: "",
          authorization: ctx.requestHeader.get("Authorization") ?? undefined,
          idempotencyKey: ctx.requestHeader.get("Idempotency-Key") ?? undefined,
        });
        return { payment: { id: req.id } };
      },
    });
  },
});

// gRPC needs HTTP/2, while fetch (used by "connect" and "grpc-web") speaks
// HTTP/1.1 and a cleartext HTTP/2 server cannot fall back to it: so the same
// handler is served on two ports.
const h2Server = http2.createServer(handler);
const h1Server = http.createServer(handler);
const h2Sessions = new Set<http2.ServerHttp2Session>();
h2Server.on("session", (session) => {
  h2Sessions.add(session);
  session.on("close", () => h2Sessions.delete(session));
});
const baseUrls = {} as Record<Protocol, string>;

function listen(server: http.Server | http2.Http2Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
  );
}

beforeAll(async () => {
  baseUrls.grpc = await listen(h2Server);
  baseUrls.connect = baseUrls["grpc-web"] = await listen(h1Server);
});

afterAll(async () => {
  for (const session of h2Sessions) session.destroy();
  h1Server.closeAllConnections();
  await Promise.all([
    new Promise((resolve) => h2Server.close(resolve)),
    new Promise((resolve) => h1Server.close(resolve)),
  ]);
});

describe.each<Protocol>(["connect", "grpc", "grpc-web"])("over %s against a real server", (protocol) => {
  const client = () => createOneRouterClient({ baseUrl: baseUrls[protocol], apiKey: "or_test_xyz", protocol });
  const callsFor = (description: string) => seen.filter((c) => c.description === description);

  it("creates a payment with the API key and an Idempotency-Key", async () => {
    const res = await client().payments.createPayment({ amount: 1999n, currency: "USD", description: `ok ${protocol}` });
    expect(res.payment).toMatchObject({ id: "pay_1", amount: 1999n, currency: "USD" });
    const [call] = callsFor(`ok ${protocol}`);
    expect(call?.authorization).toBe("Bearer or_test_xyz");
    expect(call?.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("reads without an Idempotency-Key", async () => {
    const before = seen.length;
    const res = await client().payments.getPayment({ id: "pay_9" });
    expect(res.payment?.id).toBe("pay_9");
    expect(seen[before]).toMatchObject({ method: "GetPayment", authorization: "Bearer or_test_xyz", idempotencyKey: undefined });
  });

  it("retries Unavailable with the same Idempotency-Key", async () => {
    const res = await client().payments.createPayment({ amount: 5n, currency: "JPY", description: `flaky ${protocol}` });
    expect(res.payment?.id).toBe("pay_2");
    const calls = callsFor(`flaky ${protocol}`);
    expect(calls).toHaveLength(2);
    expect(calls[0]?.idempotencyKey).toBeDefined();
    expect(calls[1]?.idempotencyKey).toBe(calls[0]?.idempotencyKey);
  });

  it("decodes the ErrorInfo of a failed call", async () => {
    const err = await client()
      .payments.createPayment({ amount: 5n, currency: "EUR", description: `declined ${protocol}` })
      .catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(Code.FailedPrecondition);
    expect(errorInfo(err)).toMatchObject({
      reason: "PROVIDER_DECLINED",
      domain: "onerouter.dev",
      metadata: { decline_code: "insufficient_funds" },
    });
    expect(callsFor(`declined ${protocol}`)).toHaveLength(1);
  });
});
