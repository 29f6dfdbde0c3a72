import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { AttemptStatus, CaptureMethod, CreatePaymentRequestSchema, PaymentStatus, RefundStatus } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { noIdempotencyClaim } from "@onerouter/core";
import { describeEachEngine } from "@onerouter/core/testing";
import { goneInstanceId, leaveClaimBehind } from "@onerouter/core/testing";
import type { RunningEmulator } from "@onerouter/sandbox";
import { startSandboxProvider } from "@onerouter/sandbox";
import { PaymentStore } from "./store";
import { addSandboxAccount, failure, newTenant, paymentEvents, sandboxPayments, setRoutingProfile, type TestTenant, startTestPaymentsRoom, type TestPaymentsRoom } from "../test/index";
import { validCreatePayment } from "./validation";

// Idempotency-Key on the payment API, against a sandbox server of the test's
// own so every charge it took can be counted. A retry after its request's
// process was killed, at each point where it can die, gets the same payment
// (or refund) back, the provider holds one charge, and the retry does not
// wait for the dead process's lease.

describeEachEngine("PaymentService idempotency", (engine) => {
  let app: TestPaymentsRoom;
  let sandbox: RunningEmulator;
  let tenant: TestTenant;
  let account: { id: string; apiKey: string };
  // A tenant whose requests were cut short by a killed process (`killed`).
  let crashed: TestTenant;
  let crashedAccount: { id: string; apiKey: string };
  let killed: string;

  beforeAll(async () => {
    // The default limit (burst 200) would refuse part of the burst below.
    app = await startTestPaymentsRoom(engine);
    sandbox = await startSandboxProvider();
    tenant = await newTenant(app, "Idempotent");
    account = await addSandboxAccount(app, tenant.id, { base_url: sandbox.url, added_latency_ms: "200" });
    await setRoutingProfile(app, tenant.id, { strategy: RoutingStrategy.PRIORITY, targets: [{ providerAccountId: account.id }] });
    crashed = await newTenant(app, "Crashed");
    crashedAccount = await addSandboxAccount(app, crashed.id, { base_url: sandbox.url });
    await setRoutingProfile(app, crashed.id, { strategy: RoutingStrategy.PRIORITY, targets: [{ providerAccountId: crashedAccount.id }] });
    killed = await goneInstanceId(app.db);
  });
  afterAll(async () => {
    await app?.close();
    await sandbox?.close();
  });

  const withKey = (key: string, onHeader?: (headers: Headers) => void) => ({ headers: { "Idempotency-Key": key }, onHeader });

  it("charges once for 100 concurrent requests with one key", async () => {
    const request = { amount: 2500n, currency: "USD", metadata: { order: "o-100" } };
    const answers = await Promise.all(
      Array.from({ length: 100 }, () =>
        tenant.client.createPayment(request, withKey("order-o-100")).then(
          (res) => ({ payment: res.payment! }),
          (err: unknown) => failure(Promise.reject(err)),
        ),
      ),
    );
    const succeeded = answers.filter((a) => "payment" in a);
    const refused = answers.filter((a) => !("payment" in a));
    // The first request runs; every request arriving while it runs is told
    // so (ABORTED, not retried by the client library); any arriving after it
    // finished gets its stored answer.
    expect(succeeded.length).toBeGreaterThanOrEqual(1);
    expect(new Set(succeeded.map((a) => a.payment.id)).size).toBe(1);
    for (const a of succeeded) expect(a.payment.status).toBe(PaymentStatus.SUCCEEDED);
    for (const a of refused) expect(a).toMatchObject({ code: Code.Aborted, reason: "IDEMPOTENCY_KEY_IN_USE" });

    const stored = (await app.db.knex("payments").where({ tenant_id: tenant.id })) as { id: string }[];
    expect(stored).toHaveLength(1);
    expect(await app.db.knex("payment_attempts").where({ payment_id: stored[0]!.id })).toHaveLength(1);
    expect(await sandboxPayments(sandbox.url, account.apiKey)).toHaveLength(1);

    // Once it has finished, the same key replays the same payment and says so.
    let replayed: string | null = null;
    const again = await tenant.client.createPayment(request, withKey("order-o-100", (h) => (replayed = h.get("Idempotent-Replayed"))));
    expect(again.payment?.id).toBe(stored[0]!.id);
    expect(replayed).toBe("true");
    expect(await sandboxPayments(sandbox.url, account.apiKey)).toHaveLength(1);
  });

  // The statements that write payments or their attempts while `call` runs,
  // each with whether it ran inside a transaction.
  async function paymentWrites<T>(call: () => Promise<T>): Promise<{ result: T; writes: { sql: string; inTransaction: boolean }[] }> {
    const writes: { sql: string; inTransaction: boolean }[] = [];
    const onQuery = (q: { sql: string; __knexTxId?: string }) => {
      if (/^\s*(with|insert|update)\b/i.test(q.sql) && /"payment(s|_attempts)"/.test(q.sql)) writes.push({ sql: q.sql, inTransaction: q.__knexTxId !== undefined });
    };
    app.db.knex.on("query", onQuery);
    try {
      return { result: await call(), writes };
    } finally {
      app.db.knex.off("query", onQuery);
    }
  }

  // Pays under `key` and, while the provider holds the call, lets `meanwhile`
  // change what the request wrote before the call; answers the request's
  // payment, its stored form and its replay.
  async function payWhile(key: string, meanwhile: (payment: { id: string }, attemptId: string) => Promise<void>) {
    const request = { amount: 1600n, currency: "USD", metadata: { order: key } };
    const { result, writes } = await paymentWrites(async () => {
      const paying = tenant.client.createPayment(request, withKey(key));
      const written = () => app.db.knex("payments").whereRaw("metadata->>'order' = ?", [key]).first() as Promise<{ id: string; status: string } | undefined>;
      await expect.poll(async () => (await written())?.status, { interval: 5 }).toBe("processing");
      const payment = (await written())!;
      const [attempt] = (await app.db.knex("payment_attempts").where({ payment_id: payment.id })) as { id: string }[];
      await meanwhile(payment, attempt!.id);
      return (await paying).payment!;
    });
    const stored = (await tenant.client.getPayment({ id: result.id })).payment!;
    const replayed = (await tenant.client.createPayment(request, withKey(key))).payment!;
    return { answer: result, stored, replayed, writes, events: (await paymentEvents(app, result.id)).map((e) => e.type) };
  }

  it("settles the payment in one statement after the provider call when nothing changed it meanwhile", async () => {
    const { answer, stored, replayed, writes, events } = await payWhile("one-statement", async () => undefined);
    expect(answer).toMatchObject({ status: PaymentStatus.SUCCEEDED, amountCaptured: 1600n });
    // One statement before the call, one after, neither in a transaction of several.
    expect(writes.map((w) => w.inTransaction)).toEqual([false, false]);
    expect(stored).toEqual(answer);
    expect(replayed).toEqual(answer);
    expect(events).toEqual(["payment.created", "payment.succeeded"]);
  });

  it("settles from what is there now when the payment changed during the provider call", async () => {
    const { answer, stored, replayed, writes, events } = await payWhile("changed-meanwhile", async (payment) => {
      await app.db.knex("payments").where({ id: payment.id }).update({ description: "changed meanwhile", updated_at: new Date() });
    });
    expect(answer).toMatchObject({ status: PaymentStatus.SUCCEEDED, amountCaptured: 1600n, description: "changed meanwhile" });
    expect(answer.attempts.map((a) => a.status)).toEqual([AttemptStatus.SUCCEEDED]);
    // The statement wrote nothing, so the settling transaction did it all.
    expect(writes.some((w) => w.inTransaction)).toBe(true);
    expect(stored).toEqual(answer);
    expect(replayed).toEqual(answer);
    expect(events).toEqual(["payment.created", "payment.succeeded"]);
  });

  it("leaves the payment to another process that settled its attempt during the provider call", async () => {
    const { answer, stored, replayed, events } = await payWhile("settled-elsewhere", async (payment, attemptId) => {
      // As an inbound webhook settles it, in a transaction of its own.
      await app.db.knex.transaction((trx) =>
        new PaymentStore(app.db.knex).settleAttempt(
          attemptId,
          ["pending"],
          { status: "succeeded", provider_payment_id: "pay_elsewhere" },
          { status: "succeeded", patch: { provider_payment_id: "pay_elsewhere", amount_captured: 1600n } },
          trx,
        ),
      );
      expect((await app.db.knex("payments").where({ id: payment.id }).first()).status).toBe("succeeded");
    });
    expect(answer).toMatchObject({ status: PaymentStatus.SUCCEEDED, providerPaymentId: "pay_elsewhere" });
    expect(answer.attempts.map((a) => [a.status, a.providerPaymentId])).toEqual([[AttemptStatus.SUCCEEDED, "pay_elsewhere"]]);
    expect(stored).toEqual(answer);
    expect(replayed).toEqual(answer);
    expect(events).toEqual(["payment.created", "payment.succeeded"]);
  });

  // On Postgres, where another transaction can hold the payment while the
  // statement waits for it: the statement looks at the row again once it is
  // free, and writes nothing as the row changed.
  it.runIf(engine === "postgres")("settles from what is there now when the payment was changed while the statement waited for it", async () => {
    const { answer, stored, writes, events } = await payWhile("held-meanwhile", async (payment) => {
      await app.db.knex.transaction(async (trx) => {
        await trx("payments").where({ id: payment.id }).forUpdate().first();
        const waiting = async () =>
          (
            await app.db.knex.raw<{ rows: { n: number }[] }>(
              "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%payment_locked%'",
            )
          ).rows[0]!.n;
        await expect.poll(waiting, { interval: 5 }).toBe(1);
        await trx("payments").where({ id: payment.id }).update({ description: "changed while held", updated_at: new Date() });
      });
    });
    expect(answer).toMatchObject({ status: PaymentStatus.SUCCEEDED, description: "changed while held" });
    expect(answer.attempts.map((a) => a.status)).toEqual([AttemptStatus.SUCCEEDED]);
    expect(writes.some((w) => w.inTransaction)).toBe(true);
    expect(stored).toEqual(answer);
    expect(events).toEqual(["payment.created", "payment.succeeded"]);
  });

  it("refuses the key with other parameters", async () => {
    await tenant.client.createPayment({ amount: 100n, currency: "USD" }, withKey("reused"));
    expect(await failure(tenant.client.createPayment({ amount: 101n, currency: "USD" }, withKey("reused")))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "IDEMPOTENCY_KEY_REUSED",
    });
  });

  it("replays a stored error too", async () => {
    const paid = (await tenant.client.createPayment({ amount: 100n, currency: "USD" })).payment!;
    const first = await failure(tenant.client.capturePayment({ id: paid.id }, withKey("capture-once")));
    expect(first).toMatchObject({ code: Code.FailedPrecondition, reason: "PAYMENT_STATE_INVALID" });
    const again = await tenant.client.capturePayment({ id: paid.id }, withKey("capture-once")).catch((e: unknown) => ConnectError.from(e));
    expect(again).toBeInstanceOf(ConnectError);
    expect(await failure(Promise.reject(again))).toEqual(first);
    // An error answer carries the response headers with it.
    expect((again as ConnectError).metadata.get("Idempotent-Replayed")).toBe("true");
  });

  it("captures and refunds once per key", async () => {
    const manual = (await tenant.client.createPayment({ amount: 1000n, currency: "USD", captureMethod: CaptureMethod.MANUAL })).payment!;
    const captures = await Promise.all([
      tenant.client.capturePayment({ id: manual.id, amount: 400n }, withKey("cap-1")).catch((e: unknown) => e),
      tenant.client.capturePayment({ id: manual.id, amount: 400n }, withKey("cap-1")).catch((e: unknown) => e),
    ]);
    expect(captures.some((c) => (c as { payment?: unknown }).payment)).toBe(true);
    for (let i = 0; i < 3; i++) await tenant.client.refundPayment({ paymentId: manual.id, amount: 150n }, withKey("refund-1"));
    const refunded = (await tenant.client.getPayment({ id: manual.id })).payment!;
    expect(refunded).toMatchObject({ amountCaptured: 400n, amountRefunded: 150n });
    expect((await tenant.client.listRefunds({ paymentId: manual.id })).refunds).toHaveLength(1);
  });

  it("names the header when the key is longer than 255 characters", async () => {
    expect(await failure(tenant.client.createPayment({ amount: 100n, currency: "USD" }, withKey("k".repeat(256))))).toMatchObject({
      code: Code.InvalidArgument,
      metadata: { field: "Idempotency-Key" },
    });
  });

  const leftBy = (key: string, resourceId: string | null, asKey?: string) =>
    leaveClaimBehind(app.db.knex, { tenantId: crashed.id, key }, { ownerInstance: killed, resourceId, ...(asKey !== undefined && { asKey }) });
  const charges = async (attemptId: string) =>
    (await sandboxPayments(sandbox.url, crashedAccount.apiKey)).filter((p) => p.attempt_id === attemptId).length;
  const paymentCount = async () => (await app.db.knex("payments").where({ tenant_id: crashed.id })).length;

  // The rows as they were before the provider's answer was recorded.
  async function forgetAnswer(paymentId: string, attemptStatus: "pending" | "unknown") {
    await app.db.knex("payments").where({ id: paymentId }).update({
      status: "processing",
      provider_payment_id: "",
      amount_captured: 0,
      amount_capturable: 0,
    });
    await app.db.knex("payment_attempts").where({ payment_id: paymentId }).update({ status: attemptStatus, provider_payment_id: "" });
  }

  // Retries `request` under `key` and checks it did not wait for the lease.
  async function retry(request: MessageInitShape<typeof CreatePaymentRequestSchema>, key: string) {
    const started = Date.now();
    const payment = (await crashed.client.createPayment(request, withKey(key))).payment!;
    expect(Date.now() - started).toBeLessThan(10_000);
    return payment;
  }

  for (const attemptStatus of ["pending", "unknown"] as const) {
    it(`resumes a payment the provider took while its attempt was ${attemptStatus}, charging once`, async () => {
      const request = { amount: 1200n, currency: "USD", metadata: { case: attemptStatus } };
      const key = `after-provider-${attemptStatus}`;
      const paid = (await crashed.client.createPayment(request, withKey(key))).payment!;
      const attemptId = paid.attempts[0]!.id;
      await forgetAnswer(paid.id, attemptStatus);
      await leftBy(key, paid.id);
      const before = await paymentCount();

      const resumed = await retry(request, key);
      expect(resumed).toMatchObject({ id: paid.id, status: PaymentStatus.SUCCEEDED, amountCaptured: 1200n });
      expect(resumed.attempts.map((a) => a.id)).toEqual([attemptId]);
      expect(await charges(attemptId)).toBe(1);
      expect(await paymentCount()).toBe(before);
    });
  }

  it("routes a payment whose process died before its first attempt, once", async () => {
    const request = { amount: 1300n, currency: "USD" };
    await crashed.client.createPayment(request, withKey("template-1300"));
    // Created and bound in one transaction, then the process died.
    const { payment: orphan } = await new PaymentStore(app.db.knex).createPayment(
      { tenantId: crashed.id, environment: "test" },
      validCreatePayment(create(CreatePaymentRequestSchema, request)),
      noIdempotencyClaim,
    );
    await leftBy("template-1300", orphan.id, "before-attempt");

    const resumed = await retry(request, "before-attempt");
    expect(resumed).toMatchObject({ id: orphan.id, status: PaymentStatus.SUCCEEDED });
    expect(resumed.attempts).toHaveLength(1);
    expect(await charges(resumed.attempts[0]!.id)).toBe(1);
  });

  it("answers with the payment its process recorded but did not answer", async () => {
    const request = { amount: 1400n, currency: "USD" };
    const paid = (await crashed.client.createPayment(request, withKey("recorded"))).payment!;
    await leftBy("recorded", paid.id);
    const chargesBefore = (await sandboxPayments(sandbox.url, crashedAccount.apiKey)).length;
    expect(await retry(request, "recorded")).toMatchObject({ id: paid.id, status: PaymentStatus.SUCCEEDED });
    expect(await sandboxPayments(sandbox.url, crashedAccount.apiKey)).toHaveLength(chargesBefore);
  });

  it("runs afresh, without waiting, when the process died before creating anything", async () => {
    const request = { amount: 1500n, currency: "USD" };
    const first = (await crashed.client.createPayment(request, withKey("nothing-bound"))).payment!;
    // Stands for a claim whose transaction never committed its payment.
    await leftBy("nothing-bound", null);
    const fresh = await retry(request, "nothing-bound");
    expect(fresh.id).not.toBe(first.id);
    expect(fresh.status).toBe(PaymentStatus.SUCCEEDED);
    expect(await charges(fresh.attempts[0]!.id)).toBe(1);
  });

  it("answers a capture that was recorded but not answered, and resends one that was not recorded", async () => {
    const manual = async () =>
      (await crashed.client.createPayment({ amount: 1000n, currency: "USD", captureMethod: CaptureMethod.MANUAL })).payment!;
    const recorded = await manual();
    await crashed.client.capturePayment({ id: recorded.id, amount: 400n }, withKey("capture-recorded"));
    await leftBy("capture-recorded", recorded.id);
    const again = (await crashed.client.capturePayment({ id: recorded.id, amount: 400n }, withKey("capture-recorded"))).payment!;
    expect(again).toMatchObject({ id: recorded.id, status: PaymentStatus.SUCCEEDED, amountCaptured: 400n });

    const unrecorded = await manual();
    await crashed.client.capturePayment({ id: unrecorded.id, amount: 400n }, withKey("capture-unrecorded"));
    await app.db.knex("payments").where({ id: unrecorded.id }).update({ status: "requires_capture", amount_captured: 0, amount_capturable: 1000 });
    await leftBy("capture-unrecorded", unrecorded.id);
    const resent = (await crashed.client.capturePayment({ id: unrecorded.id, amount: 400n }, withKey("capture-unrecorded"))).payment!;
    expect(resent).toMatchObject({ status: PaymentStatus.SUCCEEDED, amountCaptured: 400n });
    const atSandbox = (await sandboxPayments(sandbox.url, crashedAccount.apiKey)).find((p) => p.id === resent.providerPaymentId) as
      | { amount_captured?: string }
      | undefined;
    expect(atSandbox?.amount_captured).toBe("400");
  });

  it("answers a cancel that was recorded but not answered", async () => {
    const manual = (await crashed.client.createPayment({ amount: 900n, currency: "USD", captureMethod: CaptureMethod.MANUAL })).payment!;
    await crashed.client.cancelPayment({ id: manual.id }, withKey("cancel-recorded"));
    await leftBy("cancel-recorded", manual.id);
    expect((await crashed.client.cancelPayment({ id: manual.id }, withKey("cancel-recorded"))).payment?.status).toBe(PaymentStatus.CANCELED);
  });

  it("sends a refund whose process died before the provider's answer under the same refund id, refunding once", async () => {
    const paid = (await crashed.client.createPayment({ amount: 2000n, currency: "USD" })).payment!;
    const { refund } = await crashed.client.refundPayment({ paymentId: paid.id, amount: 300n }, withKey("refund-crash"));
    await app.db.knex("refunds").where({ id: refund!.id }).update({ status: "pending", provider_refund_id: "" });
    await leftBy("refund-crash", refund!.id);

    const again = await crashed.client.refundPayment({ paymentId: paid.id, amount: 300n }, withKey("refund-crash"));
    expect(again.refund).toMatchObject({ id: refund!.id, status: RefundStatus.SUCCEEDED });
    expect(again.payment?.amountRefunded).toBe(300n);
    expect((await crashed.client.listRefunds({ paymentId: paid.id })).refunds).toHaveLength(1);
    const atSandbox = (await sandboxPayments(sandbox.url, crashedAccount.apiKey)).find((p) => p.id === paid.providerPaymentId) as
      | { amount_refunded?: string }
      | undefined;
    expect(atSandbox?.amount_refunded).toBe("300");
  });
});
