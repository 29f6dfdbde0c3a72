import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, createHandlerContext } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ErrorInfoSchema } from "@onerouter/client/gen/google/rpc/error_details_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import {
  CreatePaymentRequestSchema,
  CreatePaymentResponseSchema,
  PaymentService,
  RefundPaymentRequestSchema,
  RefundPaymentResponseSchema,
  type CreatePaymentRequest,
  type CreatePaymentResponse,
} from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { callerKey } from "./context";
import { adminMigrations } from "@onerouter/admin";
import type { Database } from "./db/database";
import { createTestDatabase, describeEachEngine } from "../test/database";
import { apiError } from "./errors";
import { runPrepared, withParts } from "./db/statements";
import { newId } from "./ids";
import { createIdempotency, idempotencyMigrations, type Idempotency, type IdempotencyClaim } from "./idempotency";
import { startProcessLiveness, type ProcessLiveness } from "./process-liveness";

const method = PaymentService.method.createPayment;

function handlerContext(key: string | undefined, caller: { tenantId: string; environment?: Environment }) {
  return createHandlerContext({
    service: PaymentService,
    method,
    protocolName: "connect",
    requestMethod: "POST",
    url: "http://localhost/",
    requestHeader: key === undefined ? {} : { "Idempotency-Key": key },
    contextValues: createContextValues().set(callerKey, {
      tenantId: caller.tenantId,
      environment: caller.environment ?? Environment.TEST,
      actor: "api_key:key_test",
      apiKeyId: "key_test",
      scopes: [],
    }),
  });
}

function request(amount: bigint, metadata: Record<string, string> = {}): CreatePaymentRequest {
  return create(CreatePaymentRequestSchema, { amount, currency: "USD", metadata });
}

const response = (id: string) => create(CreatePaymentResponseSchema, { payment: { id } });

async function outcome(promise: Promise<CreatePaymentResponse>) {
  try {
    return { response: await promise };
  } catch (err) {
    const error = ConnectError.from(err);
    return { code: error.code, reason: error.findDetails(ErrorInfoSchema)[0]?.reason, error };
  }
}

describeEachEngine("idempotency keys", (engine) => {
  let db: Database;
  let idempotency: Idempotency;
  let tenantId: string;
  let counter = 0;
  const key = () => `key-${engine}-${++counter}`;

  beforeAll(async () => {
    db = await createTestDatabase(engine);
    await db.migrate([...adminMigrations, ...idempotencyMigrations]);
    tenantId = newId("ten");
    await db.knex("tenants").insert({ id: tenantId, name: "Idempotent" });
    idempotency = createIdempotency(db.knex);
  });
  afterAll(async () => db?.close());

  // Two processes on the database: `a` runs a request and dies mid-way, `b` serves the retry.
  async function twoProcesses() {
    const a = await startProcessLiveness(db);
    const b = await startProcessLiveness(db);
    return { a, b, idemA: createIdempotency(db.knex, { liveness: a }), idemB: createIdempotency(db.knex, { liveness: b }) };
  }

  // Starts a request under `idem` that binds `resourceId`, then hangs as a killed process would.
  async function bindAndHang(idem: Idempotency, k: string, amount: bigint, resourceId: string) {
    void idem.withIdempotency(handlerContext(k, { tenantId }), method, request(amount), async (claim) => {
      await db.knex.transaction((trx) => claim.bind(trx, resourceId));
      return new Promise<CreatePaymentResponse>(() => undefined);
    });
    await expect.poll(async () => (await db.knex("idempotency_keys").where({ key: k }).first())?.resource_id).toBe(resourceId);
  }

  it("resumes the object bound to a claim whose process is gone, without waiting for the lease", async () => {
    const k = key();
    const { a, b, idemA, idemB } = await twoProcesses();
    await bindAndHang(idemA, k, 20n, "pay_bound");
    const resumed: (string | undefined)[] = [];
    const retry = () =>
      outcome(
        idemB.withIdempotency(handlerContext(k, { tenantId }), method, request(20n), async (claim) => {
          resumed.push(claim.resumeId);
          return response(claim.resumeId ?? "pay_new");
        }),
      );
    if (engine === "postgres") {
      // Its process still holds its advisory lock: the claim is its own.
      expect(await retry()).toMatchObject({ code: Code.Aborted, reason: "IDEMPOTENCY_KEY_IN_USE" });
    }
    await a.close();
    const started = Date.now();
    expect((await retry()).response?.payment?.id).toBe("pay_bound");
    expect(Date.now() - started).toBeLessThan(5000);
    expect(resumed).toEqual(["pay_bound"]);
    await b.close();
  });

  it("runs afresh when the process died before binding anything", async () => {
    const k = key();
    const { a, b, idemA, idemB } = await twoProcesses();
    void idemA.withIdempotency(handlerContext(k, { tenantId }), method, request(21n), () => new Promise<CreatePaymentResponse>(() => undefined));
    await expect.poll(async () => (await db.knex("idempotency_keys").where({ key: k }).first())?.status).toBe("in_progress");
    await a.close();
    const answer = await idemB.withIdempotency(handlerContext(k, { tenantId }), method, request(21n), async (claim) =>
      response(claim.resumeId ?? "pay_fresh"),
    );
    expect(answer.payment?.id).toBe("pay_fresh");
    await b.close();
  });

  it("refuses to bind for a run whose claim was taken over, so its transaction creates nothing", async () => {
    const k = key();
    const { a, b, idemA, idemB } = await twoProcesses();
    let proceed!: () => void;
    const firstRun = idemA.withIdempotency(handlerContext(k, { tenantId }), method, request(22n), async (claim) => {
      await new Promise<void>((resolve) => (proceed = resolve));
      await db.knex.transaction(async (trx) => {
        await trx("tenants").insert({ id: "ten_must_not_exist", name: "rolled back" });
        await claim.bind(trx, "pay_late");
      });
      return response("pay_late");
    });
    await expect.poll(async () => (await db.knex("idempotency_keys").where({ key: k }).first())?.status).toBe("in_progress");
    await a.close();
    expect((await idemB.withIdempotency(handlerContext(k, { tenantId }), method, request(22n), async () => response("pay_b"))).payment?.id).toBe("pay_b");
    proceed();
    expect(await outcome(firstRun)).toMatchObject({ code: Code.Aborted, reason: "IDEMPOTENCY_KEY_IN_USE" });
    expect(await db.knex("tenants").where({ id: "ten_must_not_exist" }).first()).toBeUndefined();
    await b.close();
  });

  it("stores an answer written under a condition only when the statement's guard returned a row", async () => {
    const status = async (k: string) => (await db.knex("idempotency_keys").where({ key: k }).first())?.status as string;
    const run = (k: string, holds: boolean) =>
      idempotency.withIdempotency(handlerContext(k, { tenantId }), method, request(23n), async (claim) => {
        await db.knex.transaction((trx) => claim.bind(trx, "pay_guarded"));
        const answer = claim.answerWriteIf(response("pay_guarded"), "guard")!;
        const guard = { sql: holds ? "select 1" : "select 1 where false", bindings: [] };
        await runPrepared(db.knex, withParts([["guard", guard], ["answer", answer.write]], { sql: "select 1", bindings: [] }));
        if (holds) {
          answer.written();
          expect(await status(k)).toBe("completed");
          return response("pay_guarded");
        }
        // Not written: the run answers otherwise, and that answer is stored.
        expect(await status(k)).toBe("in_progress");
        return response("pay_otherwise");
      });
    const [held, failed] = [key(), key()];
    expect((await run(held, true)).payment?.id).toBe("pay_guarded");
    expect((await run(failed, false)).payment?.id).toBe("pay_otherwise");
    expect((await run(held, false)).payment?.id).toBe("pay_guarded");
    expect((await run(failed, true)).payment?.id).toBe("pay_otherwise");
  });

  it("keeps a key bound to an object through UNAVAILABLE and resumes the object on retry", async () => {
    const k = key();
    const seen: (string | undefined)[] = [];
    const run = async (claim: IdempotencyClaim) => {
      seen.push(claim.resumeId);
      if (claim.resumeId) return response(claim.resumeId);
      await claim.bind(db.knex, "pay_kept");
      throw apiError(Code.Unavailable, "PROVIDER_UNAVAILABLE", "answer lost");
    };
    expect(await outcome(idempotency.withIdempotency(handlerContext(k, { tenantId }), method, request(23n), run))).toMatchObject({
      code: Code.Unavailable,
    });
    expect((await idempotency.withIdempotency(handlerContext(k, { tenantId }), method, request(23n), run)).payment?.id).toBe("pay_kept");
    expect(seen).toEqual([undefined, "pay_kept"]);
  });

  it("runs once per key and replays the stored answer, marked replayed", async () => {
    const k = key();
    let runs = 0;
    const run = async () => response(`pay_${++runs}`);
    const first = handlerContext(k, { tenantId });
    expect((await idempotency.withIdempotency(first, method, request(100n), run)).payment?.id).toBe("pay_1");
    expect(first.responseHeader.get("Idempotent-Replayed")).toBeNull();
    const again = handlerContext(k, { tenantId });
    expect((await idempotency.withIdempotency(again, method, request(100n), run)).payment?.id).toBe("pay_1");
    expect(again.responseHeader.get("Idempotent-Replayed")).toBe("true");
    expect(runs).toBe(1);
  });

  it("runs every time without a key", async () => {
    let runs = 0;
    const run = async () => response(`pay_${++runs}`);
    await idempotency.withIdempotency(handlerContext(undefined, { tenantId }), method, request(1n), run);
    await idempotency.withIdempotency(handlerContext(undefined, { tenantId }), method, request(1n), run);
    expect(runs).toBe(2);
  });

  it("replays an error with its ErrorInfo", async () => {
    const k = key();
    let runs = 0;
    const run = async (): Promise<CreatePaymentResponse> => {
      runs += 1;
      throw apiError(Code.FailedPrecondition, "SOMETHING_WRONG", "it went wrong", { detail: "x" });
    };
    const first = await outcome(idempotency.withIdempotency(handlerContext(k, { tenantId }), method, request(5n), run));
    const ctx = handlerContext(k, { tenantId });
    const replay = await outcome(idempotency.withIdempotency(ctx, method, request(5n), run));
    expect(runs).toBe(1);
    expect(replay).toMatchObject({ code: Code.FailedPrecondition, reason: "SOMETHING_WRONG" });
    expect(replay.error?.rawMessage).toBe(first.error?.rawMessage);
    expect(replay.error?.findDetails(ErrorInfoSchema)[0]?.metadata).toEqual({ detail: "x" });
    expect(ctx.responseHeader.get("Idempotent-Replayed")).toBe("true");
  });

  it("does not keep UNAVAILABLE, which invites a retry with the same key", async () => {
    const k = key();
    let runs = 0;
    const run = async () => {
      runs += 1;
      if (runs === 1) throw apiError(Code.Unavailable, "PROVIDER_UNAVAILABLE", "try again");
      return response("pay_retried");
    };
    expect(await outcome(idempotency.withIdempotency(handlerContext(k, { tenantId }), method, request(6n), run))).toMatchObject({
      code: Code.Unavailable,
    });
    expect((await idempotency.withIdempotency(handlerContext(k, { tenantId }), method, request(6n), run)).payment?.id).toBe("pay_retried");
  });

  it("does not keep a lost database connection as the key's answer", async () => {
    const k = key();
    let runs = 0;
    const run = async () => {
      runs += 1;
      // What pg throws when the server goes away mid-query, before the
      // error interceptor turns it into DATABASE_UNAVAILABLE.
      if (runs === 1) throw new Error("insert into payments ... - Connection terminated unexpectedly");
      return response("pay_after_outage");
    };
    await expect(idempotency.withIdempotency(handlerContext(k, { tenantId }), method, request(7n), run)).rejects.toThrow(/Connection terminated/);
    expect((await idempotency.withIdempotency(handlerContext(k, { tenantId }), method, request(7n), run)).payment?.id).toBe("pay_after_outage");
    expect(runs).toBe(2);
  });

  it("refuses the same key with other parameters, whatever the map order", async () => {
    const k = key();
    const run = async () => response("pay_x");
    await idempotency.withIdempotency(handlerContext(k, { tenantId }), method, request(7n, { a: "1", b: "2" }), run);
    const sameParams = await idempotency.withIdempotency(handlerContext(k, { tenantId }), method, request(7n, { b: "2", a: "1" }), run);
    expect(sameParams.payment?.id).toBe("pay_x");
    const other = await outcome(idempotency.withIdempotency(handlerContext(k, { tenantId }), method, request(8n), run));
    expect(other).toMatchObject({ code: Code.InvalidArgument, reason: "IDEMPOTENCY_KEY_REUSED" });
  });

  it("lets exactly one of many concurrent requests run; the others are told the key is in use", async () => {
    const k = key();
    let runs = 0;
    // The run lasts until every other request has its answer (or 10 s, should some wrongly wait or run too).
    let othersAnswered = 0;
    let finishRun!: () => void;
    const runMayFinish = new Promise<void>((resolve) => {
      finishRun = resolve;
      setTimeout(resolve, 10_000).unref();
    });
    const run = async () => {
      runs += 1;
      await runMayFinish;
      return response("pay_once");
    };
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        outcome(idempotency.withIdempotency(handlerContext(k, { tenantId }), method, request(9n), run)).then((result) => {
          if (!result.response && ++othersAnswered === 19) finishRun();
          return result;
        }),
      ),
    );
    expect(runs).toBe(1);
    expect(results.filter((r) => r.response?.payment?.id === "pay_once")).toHaveLength(1);
    for (const r of results.filter((r) => !r.response)) expect(r).toMatchObject({ code: Code.Aborted, reason: "IDEMPOTENCY_KEY_IN_USE" });
  });

  it("scopes keys by tenant, environment and method", async () => {
    const k = key();
    const otherTenant = newId("ten");
    await db.knex("tenants").insert({ id: otherTenant, name: "Other" });
    let runs = 0;
    const run = async () => response(`pay_${++runs}`);
    await idempotency.withIdempotency(handlerContext(k, { tenantId }), method, request(10n), run);
    await idempotency.withIdempotency(handlerContext(k, { tenantId: otherTenant }), method, request(10n), run);
    await idempotency.withIdempotency(handlerContext(k, { tenantId, environment: Environment.LIVE }), method, request(10n), run);
    const refund = PaymentService.method.refundPayment;
    await idempotency.withIdempotency(handlerContext(k, { tenantId }), refund, create(RefundPaymentRequestSchema, { paymentId: "p" }), async () => {
      runs += 1;
      return create(RefundPaymentResponseSchema);
    });
    expect(runs).toBe(4);
  });

  it("takes over a claim whose process died once its lease has run out", async () => {
    const k = key();
    let runs = 0;
    const run = async () => response(`pay_${++runs}`);
    await idempotency.withIdempotency(handlerContext(k, { tenantId }), method, request(11n), run);
    // Turn the row into what a process that crashed mid-request leaves behind.
    const crashed = (leaseExpiresAt: Date) =>
      db
        .knex("idempotency_keys")
        .where({ key: k })
        .update({ status: "in_progress", response: null, lease_owner: "crashed-process", lease_expires_at: leaseExpiresAt });
    await crashed(new Date(Date.now() + 60_000));
    expect(await outcome(idempotency.withIdempotency(handlerContext(k, { tenantId }), method, request(11n), run))).toMatchObject({
      code: Code.Aborted,
      reason: "IDEMPOTENCY_KEY_IN_USE",
    });
    await crashed(new Date(Date.now() - 1000));
    expect((await idempotency.withIdempotency(handlerContext(k, { tenantId }), method, request(11n), run)).payment?.id).toBe("pay_2");
    expect((await idempotency.withIdempotency(handlerContext(k, { tenantId }), method, request(11n), run)).payment?.id).toBe("pay_2");
    expect(runs).toBe(2);
  });

  it("forgets answers past their retention", async () => {
    const k = key();
    let runs = 0;
    const run = async () => response(`pay_${++runs}`);
    await idempotency.withIdempotency(handlerContext(k, { tenantId }), method, request(12n), run);
    await db.knex("idempotency_keys").where({ key: k }).update({ expires_at: new Date(Date.now() - 1000) });
    // An expired key is free again, even for other parameters.
    expect((await idempotency.withIdempotency(handlerContext(k, { tenantId }), method, request(13n), run)).payment?.id).toBe("pay_2");
    await db.knex("idempotency_keys").where({ key: k }).update({ expires_at: new Date(Date.now() - 1000) });
    expect(await idempotency.purgeExpired()).toBeGreaterThanOrEqual(1);
    expect(await db.knex("idempotency_keys").where({ key: k }).first()).toBeUndefined();
  });

  it("refuses an empty key, naming the header, and runs nothing", async () => {
    let runs = 0;
    const result = await outcome(
      idempotency.withIdempotency(handlerContext("", { tenantId }), method, request(1n), async () => {
        runs += 1;
        return response("x");
      }),
    );
    expect(result).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_FIELD" });
    expect(result.error?.findDetails(ErrorInfoSchema)[0]?.metadata.field).toBe("Idempotency-Key");
    expect(runs).toBe(0);
  });

  it("names the header when the key is too long", async () => {
    const result = await outcome(
      idempotency.withIdempotency(handlerContext("k".repeat(256), { tenantId }), method, request(1n), async () => response("x")),
    );
    expect(result).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_FIELD" });
    expect(result.error?.findDetails(ErrorInfoSchema)[0]?.metadata.field).toBe("Idempotency-Key");
  });
});
