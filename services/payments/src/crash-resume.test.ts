import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { afterAll, beforeAll, expect, it } from "vitest";
import { RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import {
  CaptureMethod,
  CreatePaymentRequestSchema,
  PaymentStatus,
  RefundStatus,
} from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { describeEachEngine } from "@onerouter/core/db/testing";
import { goneInstanceId, leaveClaimBehind } from "@onerouter/core/idempotency-testing";
import type { RunningEmulator } from "@onerouter/emulators/harness";
import { startSandboxProvider } from "@onerouter/emulators/sandbox/index";
import { startTestOneRouter, type TestOneRouter } from "@onerouter/server/testing";
import { PaymentStore } from "./store";
import { addSandboxAccount, newTenant, sandboxPayments, setRoutingProfile, type TestTenant } from "./testing";
import { validCreatePayment } from "./validation";

// A retry after its request's process was killed, at each point where it
// can die: the same payment (or refund) comes back, the provider holds one
// charge, and the retry does not wait for the dead process's lease.

describeEachEngine("PaymentService after a crash", (engine) => {
  let app: TestOneRouter;
  let sandbox: RunningEmulator;
  let tenant: TestTenant;
  let account: { id: string; apiKey: string };
  let killed: string;

  beforeAll(async () => {
    app = await startTestOneRouter({ engine });
    sandbox = await startSandboxProvider();
    tenant = await newTenant(app, "Crashed");
    account = await addSandboxAccount(app, tenant.id, { base_url: sandbox.url });
    await setRoutingProfile(app, tenant.id, { strategy: RoutingStrategy.PRIORITY, targets: [{ providerAccountId: account.id }] });
    killed = await goneInstanceId(app.db);
  });
  afterAll(async () => {
    await app?.close();
    await sandbox?.close();
  });

  const withKey = (key: string) => ({ headers: { "Idempotency-Key": key } });
  const leftBy = (key: string, resourceId: string | null, asKey?: string) =>
    leaveClaimBehind(app.db.knex, { tenantId: tenant.id, key }, { ownerInstance: killed, resourceId, ...(asKey !== undefined && { asKey }) });
  const charges = async (attemptId: string) =>
    (await sandboxPayments(sandbox.url, account.apiKey)).filter((p) => p.attempt_id === attemptId).length;
  const paymentCount = async () => (await app.db.knex("payments").where({ tenant_id: tenant.id })).length;

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
    const payment = (await tenant.client.createPayment(request, withKey(key))).payment!;
    expect(Date.now() - started).toBeLessThan(10_000);
    return payment;
  }

  for (const attemptStatus of ["pending", "unknown"] as const) {
    it(`resumes a payment the provider took while its attempt was ${attemptStatus}, charging once`, async () => {
      const request = { amount: 1200n, currency: "USD", metadata: { case: attemptStatus } };
      const key = `after-provider-${attemptStatus}`;
      const paid = (await tenant.client.createPayment(request, withKey(key))).payment!;
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
    await tenant.client.createPayment(request, withKey("template-1300"));
    // Created and bound in one transaction, then the process died.
    const orphan = await new PaymentStore(app.db.knex).createPayment(
      { tenantId: tenant.id, environment: "test" },
      validCreatePayment(create(CreatePaymentRequestSchema, request)),
      async () => undefined,
    );
    await leftBy("template-1300", orphan.id, "before-attempt");

    const resumed = await retry(request, "before-attempt");
    expect(resumed).toMatchObject({ id: orphan.id, status: PaymentStatus.SUCCEEDED });
    expect(resumed.attempts).toHaveLength(1);
    expect(await charges(resumed.attempts[0]!.id)).toBe(1);
  });

  it("answers with the payment its process recorded but did not answer", async () => {
    const request = { amount: 1400n, currency: "USD" };
    const paid = (await tenant.client.createPayment(request, withKey("recorded"))).payment!;
    await leftBy("recorded", paid.id);
    const chargesBefore = (await sandboxPayments(sandbox.url, account.apiKey)).length;
    expect(await retry(request, "recorded")).toMatchObject({ id: paid.id, status: PaymentStatus.SUCCEEDED });
    expect(await sandboxPayments(sandbox.url, account.apiKey)).toHaveLength(chargesBefore);
  });

  it("runs afresh, without waiting, when the process died before creating anything", async () => {
    const request = { amount: 1500n, currency: "USD" };
    const first = (await tenant.client.createPayment(request, withKey("nothing-bound"))).payment!;
    // Stands for a claim whose transaction never committed its payment.
    await leftBy("nothing-bound", null);
    const fresh = await retry(request, "nothing-bound");
    expect(fresh.id).not.toBe(first.id);
    expect(fresh.status).toBe(PaymentStatus.SUCCEEDED);
    expect(await charges(fresh.attempts[0]!.id)).toBe(1);
  });

  it("answers a capture that was recorded but not answered, and resends one that was not recorded", async () => {
    const manual = async () =>
      (await tenant.client.createPayment({ amount: 1000n, currency: "USD", captureMethod: CaptureMethod.MANUAL })).payment!;
    const recorded = await manual();
    await tenant.client.capturePayment({ id: recorded.id, amount: 400n }, withKey("capture-recorded"));
    await leftBy("capture-recorded", recorded.id);
    const again = (await tenant.client.capturePayment({ id: recorded.id, amount: 400n }, withKey("capture-recorded"))).payment!;
    expect(again).toMatchObject({ id: recorded.id, status: PaymentStatus.SUCCEEDED, amountCaptured: 400n });

    const unrecorded = await manual();
    await tenant.client.capturePayment({ id: unrecorded.id, amount: 400n }, withKey("capture-unrecorded"));
    await app.db.knex("payments").where({ id: unrecorded.id }).update({ status: "requires_capture", amount_captured: 0, amount_capturable: 1000 });
    await leftBy("capture-unrecorded", unrecorded.id);
    const resent = (await tenant.client.capturePayment({ id: unrecorded.id, amount: 400n }, withKey("capture-unrecorded"))).payment!;
    expect(resent).toMatchObject({ status: PaymentStatus.SUCCEEDED, amountCaptured: 400n });
    const atSandbox = (await sandboxPayments(sandbox.url, account.apiKey)).find((p) => p.id === resent.providerPaymentId) as
      | { amount_captured?: string }
      | undefined;
    expect(atSandbox?.amount_captured).toBe("400");
  });

  it("answers a cancel that was recorded but not answered", async () => {
    const manual = (await tenant.client.createPayment({ amount: 900n, currency: "USD", captureMethod: CaptureMethod.MANUAL })).payment!;
    await tenant.client.cancelPayment({ id: manual.id }, withKey("cancel-recorded"));
    await leftBy("cancel-recorded", manual.id);
    expect((await tenant.client.cancelPayment({ id: manual.id }, withKey("cancel-recorded"))).payment?.status).toBe(PaymentStatus.CANCELED);
  });

  it("sends a refund whose process died before the provider's answer under the same refund id, refunding once", async () => {
    const paid = (await tenant.client.createPayment({ amount: 2000n, currency: "USD" })).payment!;
    const { refund } = await tenant.client.refundPayment({ paymentId: paid.id, amount: 300n }, withKey("refund-crash"));
    await app.db.knex("refunds").where({ id: refund!.id }).update({ status: "pending", provider_refund_id: "" });
    await leftBy("refund-crash", refund!.id);

    const again = await tenant.client.refundPayment({ paymentId: paid.id, amount: 300n }, withKey("refund-crash"));
    expect(again.refund).toMatchObject({ id: refund!.id, status: RefundStatus.SUCCEEDED });
    expect(again.payment?.amountRefunded).toBe(300n);
    expect((await tenant.client.listRefunds({ paymentId: paid.id })).refunds).toHaveLength(1);
    const atSandbox = (await sandboxPayments(sandbox.url, account.apiKey)).find((p) => p.id === paid.providerPaymentId) as
      | { amount_refunded?: string }
      | undefined;
    expect(atSandbox?.amount_refunded).toBe("300");
  });
});
