import { Code, ConnectError, createRouterTransport, type ServiceImpl } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ErrorInfoSchema, RetryInfoSchema } from "./gen/google/rpc/error_details_pb";
import { ApiKeyService } from "./gen/onerouter/admin/v1/api_keys_pb";
import { PaymentService } from "./gen/onerouter/payments/v1/payments_pb";
import { createOneRouterClient, errorInfo, type ConsoleEnvironment, type OneRouterClientOptions, type RetryOptions } from "./index";

interface SeenCall {
  method: string;
  authorization: string | null;
  idempotencyKey: string | null;
  environment: string | null;
  at: number;
}

// An in-process OneRouter: the given PaymentService methods plus a plain
// ApiKeyService, recording the headers of every call they receive.
function inMemoryOneRouter(
  payments: Partial<ServiceImpl<typeof PaymentService>> = {},
  retry?: Partial<RetryOptions>,
  caller: Pick<OneRouterClientOptions, "apiKey" | "environment"> = { apiKey: "or_test_abc" },
) {
  const seen: SeenCall[] = [];
  const record = (method: string, header: Headers) =>
    seen.push({
      method,
      authorization: header.get("Authorization"),
      idempotencyKey: header.get("Idempotency-Key"),
      environment: header.get("OneRouter-Environment"),
      at: performance.now(),
    });
  const transport = createRouterTransport((router) => {
    router.service(PaymentService, {
      async createPayment(req, ctx) {
        record("CreatePayment", ctx.requestHeader);
        return payments.createPayment
          ? payments.createPayment(req, ctx)
          : { payment: { id: "pay_1", amount: req.amount, currency: req.currency } };
      },
      async getPayment(req, ctx) {
        record("GetPayment", ctx.requestHeader);
        return { payment: { id: req.id } };
      },
      async listPayments(_req, ctx) {
        record("ListPayments", ctx.requestHeader);
        return {};
      },
      async capturePayment(req, ctx) {
        record("CapturePayment", ctx.requestHeader);
        return { payment: { id: req.id } };
      },
    });
    router.service(ApiKeyService, {
      async createApiKey(req, ctx) {
        record("CreateApiKey", ctx.requestHeader);
        return { apiKey: { name: req.name }, secret: "or_test_secret" };
      },
      async listApiKeys(_req, ctx) {
        record("ListApiKeys", ctx.requestHeader);
        return {};
      },
      async revokeApiKey(req, ctx) {
        record("RevokeApiKey", ctx.requestHeader);
        return { apiKey: { id: req.id } };
      },
    });
  });
  const client = createOneRouterClient({
    ...caller,
    transport,
    retry: { initialBackoffMs: 1, maxBackoffMs: 2, ...retry },
  });
  return { client, seen };
}

const paymentInput = { amount: 1000n, currency: "EUR" };

describe("createOneRouterClient", () => {
  it("sends the API key as a bearer token on every call", async () => {
    const { client, seen } = inMemoryOneRouter();
    await client.payments.createPayment(paymentInput);
    await client.payments.getPayment({ id: "pay_1" });
    await client.apiKeys.listApiKeys({});
    expect(seen.map((c) => c.authorization)).toEqual(Array(3).fill("Bearer or_test_abc"));
  });

  it("sends a console session's calls with no key and the environment chosen at each call", async () => {
    let environment: ConsoleEnvironment = "test";
    const { client, seen } = inMemoryOneRouter({}, undefined, { environment: () => environment });
    await client.payments.listPayments({});
    environment = "live";
    await client.payments.listPayments({});
    expect(seen.map((c) => [c.authorization, c.environment])).toEqual([
      [null, "test"],
      [null, "live"],
    ]);
  });

  it("puts a fresh Idempotency-Key on mutating calls and none on reads", async () => {
    const { client, seen } = inMemoryOneRouter();
    await client.payments.createPayment(paymentInput);
    await client.payments.createPayment(paymentInput);
    await client.payments.capturePayment({ id: "pay_1" });
    await client.apiKeys.createApiKey({ name: "ci" });
    await client.apiKeys.revokeApiKey({ id: "key_1" });
    await client.payments.getPayment({ id: "pay_1" });
    await client.payments.listPayments({});
    await client.apiKeys.listApiKeys({});

    const keys = seen.filter((c) => c.idempotencyKey !== null).map((c) => c.idempotencyKey);
    expect(seen.filter((c) => c.idempotencyKey !== null).map((c) => c.method)).toEqual([
      "CreatePayment",
      "CreatePayment",
      "CapturePayment",
      "CreateApiKey",
      "RevokeApiKey",
    ]);
    expect(new Set(keys).size).toBe(keys.length);
    for (const key of keys) expect(key).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen.filter((c) => c.idempotencyKey === null).map((c) => c.method)).toEqual([
      "GetPayment",
      "ListPayments",
      "ListApiKeys",
    ]);
  });

  it("keeps the caller's own Idempotency-Key", async () => {
    const { client, seen } = inMemoryOneRouter();
    await client.payments.createPayment(paymentInput, { headers: { "Idempotency-Key": "order-42" } });
    expect(seen[0]?.idempotencyKey).toBe("order-42");
  });

  it("retries Unavailable with the same Idempotency-Key until a call succeeds", async () => {
    let failuresLeft = 2;
    const { client, seen } = inMemoryOneRouter({
      createPayment() {
        if (failuresLeft-- > 0) throw new ConnectError("provider unreachable", Code.Unavailable);
        return { payment: { id: "pay_after_retry" } };
      },
    });
    const res = await client.payments.createPayment(paymentInput);
    expect(res.payment?.id).toBe("pay_after_retry");
    expect(seen).toHaveLength(3);
    expect(new Set(seen.map((c) => c.idempotencyKey)).size).toBe(1);
    expect(seen[0]?.idempotencyKey).not.toBeNull();
  });

  it("stops after maxAttempts and surfaces the last error", async () => {
    const { client, seen } = inMemoryOneRouter(
      {
        createPayment() {
          throw new ConnectError("provider unreachable", Code.Unavailable);
        },
      },
      { maxAttempts: 4 },
    );
    const err = await client.payments.createPayment(paymentInput).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Unavailable);
    expect(seen).toHaveLength(4);
  });

  it("defaults to three attempts", async () => {
    const { client, seen } = inMemoryOneRouter({
      createPayment() {
        throw new ConnectError("provider unreachable", Code.Unavailable);
      },
    });
    await expect(client.payments.createPayment(paymentInput)).rejects.toThrow(ConnectError);
    expect(seen).toHaveLength(3);
  });

  it.each([Code.Internal, Code.DeadlineExceeded, Code.ResourceExhausted, Code.Aborted, Code.InvalidArgument])(
    "does not retry code %s",
    async (code) => {
      const { client, seen } = inMemoryOneRouter({
        createPayment() {
          throw new ConnectError("no", code);
        },
      });
      const err = await client.payments.createPayment(paymentInput).catch((e: unknown) => e);
      expect((err as ConnectError).code).toBe(code);
      expect(seen).toHaveLength(1);
    },
  );

  it("waits as long as the server's RetryInfo asks", async () => {
    let failuresLeft = 1;
    const { client, seen } = inMemoryOneRouter({
      createPayment() {
        if (failuresLeft-- > 0) {
          throw new ConnectError("busy", Code.Unavailable, undefined, [
            { desc: RetryInfoSchema, value: { retryDelay: { seconds: 0n, nanos: 150_000_000 } } },
          ]);
        }
        return {};
      },
    });
    await client.payments.createPayment(paymentInput);
    expect(seen).toHaveLength(2);
    // The configured backoff is at most 2 ms; only RetryInfo explains the wait.
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(140);
  });

  it("stops waiting to retry when the call is aborted", async () => {
    const { client, seen } = inMemoryOneRouter({
      createPayment() {
        throw new ConnectError("busy", Code.Unavailable, undefined, [
          { desc: RetryInfoSchema, value: { retryDelay: { seconds: 60n } } },
        ]);
      },
    });
    const started = performance.now();
    const err = await client.payments
      .createPayment(paymentInput, { signal: AbortSignal.timeout(50) })
      .catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect((err as ConnectError).code).toBe(Code.Canceled);
    expect(seen).toHaveLength(1);
  });
});

describe("errorInfo", () => {
  it("decodes the ErrorInfo detail of a ConnectError", async () => {
    const { client } = inMemoryOneRouter({
      createPayment() {
        throw new ConnectError("key reused", Code.InvalidArgument, undefined, [
          {
            desc: ErrorInfoSchema,
            value: { reason: "IDEMPOTENCY_KEY_REUSED", domain: "onerouter.dev", metadata: { key: "order-42" } },
          },
        ]);
      },
    });
    const err = await client.payments.createPayment(paymentInput).catch((e: unknown) => e);
    const info = errorInfo(err);
    expect(info?.reason).toBe("IDEMPOTENCY_KEY_REUSED");
    expect(info?.domain).toBe("onerouter.dev");
    expect(info?.metadata).toEqual({ key: "order-42" });
  });

  it("is undefined for other errors and for errors without the detail", () => {
    expect(errorInfo(new Error("plain"))).toBeUndefined();
    expect(errorInfo("text")).toBeUndefined();
    expect(errorInfo(new ConnectError("bare", Code.Internal))).toBeUndefined();
  });
});
