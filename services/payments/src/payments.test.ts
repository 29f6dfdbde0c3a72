import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  AttemptStatus,
  CaptureMethod,
  PaymentStatus,
  RefundStatus,
} from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { describeEachEngine } from "@onerouter/core/testing";
import { failure, newTenant, paymentEvents, paymentsClient, type TestTenant, startTestPaymentsRoom, type TestPaymentsRoom } from "../test/index";

// The payment lifecycle through the API, on the built-in sandbox a new
// tenant's test environment starts with.

describeEachEngine("PaymentService", (engine) => {
  let app: TestPaymentsRoom;
  let tenant: TestTenant;

  beforeAll(async () => {
    app = await startTestPaymentsRoom(engine);
    tenant = await newTenant(app, "Shop");
    await app.ensureSandboxDefaults(tenant.id);
  });
  afterAll(async () => app?.close());

  const eventTypes = async (paymentId: string) => (await paymentEvents(app, paymentId)).map((e) => e.type);

  it("takes a first payment with nothing but an amount and a currency", async () => {
    const { payment } = await tenant.client.createPayment({ amount: 1000n, currency: "USD" });
    expect(payment).toMatchObject({
      status: PaymentStatus.SUCCEEDED,
      provider: "sandbox",
      amountCaptured: 1000n,
      captureMethod: CaptureMethod.AUTOMATIC,
    });
    expect(payment!.attempts).toHaveLength(1);
    // The sandbox publishes 2.9 % + 0.30 USD.
    expect(payment!.attempts[0]).toMatchObject({ status: AttemptStatus.SUCCEEDED, estimatedFee: 59n });
    expect(payment!.attempts[0]!.providerPaymentId).toBe(payment!.providerPaymentId);
    expect(await eventTypes(payment!.id)).toEqual(["payment.created", "payment.succeeded"]);
    const stored = await tenant.client.getPayment({ id: payment!.id });
    expect(stored.payment).toEqual(payment);
  });

  it("lets the default tenant pay right after start, and sets a tenant up only once", async () => {
    const { secret } = await app.createKey();
    const { payment } = await paymentsClient(app, secret).createPayment({ amount: 100n, currency: "JPY" });
    expect(payment).toMatchObject({ status: PaymentStatus.SUCCEEDED, provider: "sandbox" });

    await Promise.all([app.ensureSandboxDefaults(tenant.id), app.ensureSandboxDefaults(tenant.id)]);
    const accounts = await app.db.knex("provider_accounts").where({ tenant_id: tenant.id, category: "payments" });
    expect(accounts).toHaveLength(1);
    expect(await app.routing.get({ tenantId: tenant.id, environment: "test", category: "payments" })).toMatchObject({
      targets: [{ providerAccountId: accounts[0].id }],
    });
  });

  it("writes the full payment into each event", async () => {
    const { payment } = await tenant.client.createPayment({ amount: 250n, currency: "EUR", metadata: { order: "42" } });
    const [created, succeeded] = await paymentEvents(app, payment!.id);
    expect(created?.data.case).toBe("payment");
    expect(created?.tenantId).toBe(tenant.id);
    expect(created?.data.value).toMatchObject({ payment: { status: PaymentStatus.PROCESSING, metadata: { order: "42" } } });
    expect(succeeded?.data.value).toMatchObject({ payment: { status: PaymentStatus.SUCCEEDED, amountCaptured: 250n } });
  });

  it("authorizes, captures part, and refunds in parts up to the captured amount", async () => {
    const { payment } = await tenant.client.createPayment({ amount: 1000n, currency: "USD", captureMethod: CaptureMethod.MANUAL });
    expect(payment).toMatchObject({ status: PaymentStatus.REQUIRES_CAPTURE, amountCapturable: 1000n, amountCaptured: 0n });
    const id = payment!.id;

    expect(await failure(tenant.client.capturePayment({ id, amount: 1001n }))).toMatchObject({
      code: Code.InvalidArgument,
      metadata: { field: "amount" },
    });
    const captured = (await tenant.client.capturePayment({ id, amount: 600n })).payment!;
    expect(captured).toMatchObject({ status: PaymentStatus.SUCCEEDED, amountCaptured: 600n, amountCapturable: 0n });

    const first = await tenant.client.refundPayment({ paymentId: id, amount: 200n, reason: "damaged", metadata: { ticket: "7" } });
    expect(first.refund).toMatchObject({ status: RefundStatus.SUCCEEDED, amount: 200n, currency: "USD", provider: "sandbox", reason: "damaged" });
    expect(first.payment?.amountRefunded).toBe(200n);
    await tenant.client.refundPayment({ paymentId: id, amount: 300n });
    expect(await failure(tenant.client.refundPayment({ paymentId: id, amount: 101n }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "REFUND_AMOUNT_TOO_LARGE",
      metadata: { field: "amount" },
    });
    // 0 refunds what is left.
    const last = await tenant.client.refundPayment({ paymentId: id });
    expect(last.refund?.amount).toBe(100n);
    expect(last.payment?.amountRefunded).toBe(600n);
    expect(await failure(tenant.client.refundPayment({ paymentId: id, amount: 1n }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "PAYMENT_FULLY_REFUNDED",
    });

    const refunds = await tenant.client.listRefunds({ paymentId: id });
    expect(refunds.refunds.map((r) => r.amount)).toEqual([100n, 300n, 200n]);
    expect((await tenant.client.getRefund({ id: first.refund!.id })).refund).toEqual(first.refund);
    expect(await eventTypes(id)).toEqual([
      "payment.created",
      "payment.requires_capture",
      "payment.captured",
      "payment.succeeded",
      "refund.succeeded",
      "refund.succeeded",
      "refund.succeeded",
    ]);
  });

  it("refuses what the payment's state does not allow, naming the state", async () => {
    const automatic = (await tenant.client.createPayment({ amount: 500n, currency: "USD" })).payment!;
    for (const call of [
      () => tenant.client.capturePayment({ id: automatic.id }),
      () => tenant.client.cancelPayment({ id: automatic.id }),
    ]) {
      expect(await failure(call())).toMatchObject({
        code: Code.FailedPrecondition,
        reason: "PAYMENT_STATE_INVALID",
        metadata: { payment_id: automatic.id, status: "PAYMENT_STATUS_SUCCEEDED" },
      });
    }

    const manual = (await tenant.client.createPayment({ amount: 500n, currency: "USD", captureMethod: CaptureMethod.MANUAL })).payment!;
    expect(await failure(tenant.client.refundPayment({ paymentId: manual.id }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "PAYMENT_STATE_INVALID",
      metadata: { status: "PAYMENT_STATUS_REQUIRES_CAPTURE" },
    });
    const canceled = (await tenant.client.cancelPayment({ id: manual.id, reason: "out of stock" })).payment!;
    expect(canceled).toMatchObject({ status: PaymentStatus.CANCELED, amountCapturable: 0n });
    for (const call of [
      () => tenant.client.cancelPayment({ id: manual.id }),
      () => tenant.client.capturePayment({ id: manual.id }),
      () => tenant.client.refundPayment({ paymentId: manual.id }),
    ]) {
      expect(await failure(call())).toMatchObject({ reason: "PAYMENT_STATE_INVALID", metadata: { status: "PAYMENT_STATUS_CANCELED" } });
    }
    expect(await eventTypes(manual.id)).toEqual(["payment.created", "payment.requires_capture", "payment.canceled"]);
  });

  it("sends the customer to the provider when it requires action, and can cancel then", async () => {
    const { payment } = await tenant.client.createPayment({
      amount: 700n,
      currency: "USD",
      paymentMethod: { token: "tok_sandbox_requires_action" },
      returnUrl: "https://shop.example/back",
    });
    expect(payment?.status).toBe(PaymentStatus.REQUIRES_ACTION);
    expect(payment?.nextAction?.action).toMatchObject({
      case: "redirectToUrl",
      value: { returnUrl: "https://shop.example/back", url: expect.stringMatching(/\/authenticate\//) },
    });
    expect((await tenant.client.cancelPayment({ id: payment!.id })).payment?.status).toBe(PaymentStatus.CANCELED);
    expect(await eventTypes(payment!.id)).toEqual(["payment.created", "payment.requires_action", "payment.canceled"]);
  });

  it("records a decline as a failed payment with the decline code", async () => {
    const { payment } = await tenant.client.createPayment({
      amount: 300n,
      currency: "USD",
      paymentMethod: { token: "tok_sandbox_insufficient_funds" },
    });
    expect(payment).toMatchObject({
      status: PaymentStatus.FAILED,
      error: { reason: "PROVIDER_DECLINED", declineCode: "insufficient_funds", provider: "sandbox" },
    });
    expect(payment!.attempts.map((a) => a.status)).toEqual([AttemptStatus.DECLINED]);
    expect(await eventTypes(payment!.id)).toEqual(["payment.created", "payment.failed"]);
  });

  it("names the field of an invalid request", async () => {
    const cases: [Parameters<typeof tenant.client.createPayment>[0], string][] = [
      [{ amount: 0n, currency: "USD" }, "amount"],
      [{ amount: -5n, currency: "USD" }, "amount"],
      [{ amount: 100n, currency: "" }, "currency"],
      [{ amount: 100n, currency: "usd" }, "currency"],
      [{ amount: 100n, currency: "XYZ" }, "currency"],
      [{ amount: 100n, currency: "USD", customer: { country: "usa" } }, "customer.country"],
      [{ amount: 100n, currency: "USD", customer: { email: "nope" } }, "customer.email"],
      [{ amount: 100n, currency: "USD", returnUrl: "ftp://x" }, "return_url"],
      [{ amount: 100n, currency: "USD", metadata: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, "v"])) }, "metadata"],
      [{ amount: 100n, currency: "USD", metadata: { ["k".repeat(41)]: "v" } }, "metadata"],
      [{ amount: 100n, currency: "USD", metadata: { note: "v".repeat(501) } }, "metadata[note]"],
    ];
    for (const [request, field] of cases) {
      expect(await failure(tenant.client.createPayment(request)), field).toMatchObject({ code: Code.InvalidArgument, metadata: { field } });
    }
    expect(await failure(tenant.client.getPayment({ id: "" }))).toMatchObject({ code: Code.InvalidArgument, metadata: { field: "id" } });
    expect(await failure(tenant.client.capturePayment({ id: "pay_x", amount: -1n }))).toMatchObject({ metadata: { field: "amount" } });
    expect(await failure(tenant.client.getPayment({ id: "pay_missing" }))).toMatchObject({ code: Code.NotFound });
  });

  it("lists payments newest first by page, filtered by status, provider and time", async () => {
    const lister = await newTenant(app, "Lister");
    await app.ensureSandboxDefaults(lister.id);
    const made = [];
    for (const token of ["tok_sandbox_success", "tok_sandbox_decline", "tok_sandbox_success"]) {
      made.push((await lister.client.createPayment({ amount: 100n, currency: "USD", paymentMethod: { token } })).payment!);
    }
    const first = await lister.client.listPayments({ pageSize: 2 });
    const second = await lister.client.listPayments({ pageSize: 2, pageToken: first.nextPageToken });
    expect([...first.payments, ...second.payments].map((p) => p.id)).toEqual(made.map((p) => p.id).reverse());
    expect(second.nextPageToken).toBe("");
    expect(first.payments[0]?.attempts).toHaveLength(1);

    const failed = await lister.client.listPayments({ status: PaymentStatus.FAILED });
    expect(failed.payments.map((p) => p.id)).toEqual([made[1]!.id]);
    expect((await lister.client.listPayments({ provider: "stripe" })).payments).toEqual([]);
    expect((await lister.client.listPayments({ provider: "sandbox" })).payments).toHaveLength(3);
    const since = made[1]!.createTime!;
    const windowed = await lister.client.listPayments({ createTime: { startTime: since, endTime: made[2]!.createTime } });
    expect(windowed.payments.map((p) => p.id)).toEqual([made[1]!.id]);
    expect(
      await failure(lister.client.listPayments({ createTime: { startTime: timestampFromDate(new Date()), endTime: since } })),
    ).toMatchObject({ code: Code.InvalidArgument, metadata: { field: "create_time" } });
    expect(await failure(lister.client.listPayments({ createTime: { endTime: { seconds: -(10n ** 15n), nanos: 0 } } }))).toMatchObject({
      code: Code.InvalidArgument,
      metadata: { field: "create_time.end_time" },
    });
  });

  it("keeps each tenant's and environment's payments to themselves", async () => {
    const other = await newTenant(app, "Other");
    await app.ensureSandboxDefaults(other.id);
    const manual = (await tenant.client.createPayment({ amount: 900n, currency: "USD", captureMethod: CaptureMethod.MANUAL })).payment!;
    const paid = (await tenant.client.createPayment({ amount: 900n, currency: "USD" })).payment!;
    const { refund } = await tenant.client.refundPayment({ paymentId: paid.id, amount: 100n });

    for (const client of [other.client, tenant.liveClient]) {
      for (const call of [
        () => client.getPayment({ id: paid.id }),
        () => client.capturePayment({ id: manual.id }),
        () => client.cancelPayment({ id: manual.id }),
        () => client.refundPayment({ paymentId: paid.id }),
        () => client.getRefund({ id: refund!.id }),
      ]) {
        expect(await failure(call())).toMatchObject({ code: Code.NotFound, reason: "RESOURCE_NOT_FOUND" });
      }
      expect((await client.listPayments({})).payments.map((p) => p.id)).not.toContain(paid.id);
      expect((await client.listRefunds({ paymentId: paid.id })).refunds).toEqual([]);
    }
    // Untouched by the others' attempts.
    expect((await tenant.client.getPayment({ id: manual.id })).payment?.status).toBe(PaymentStatus.REQUIRES_CAPTURE);
    expect((await tenant.client.getPayment({ id: paid.id })).payment?.amountRefunded).toBe(100n);
  });

  it("fails a live payment when the live environment has no provider account", async () => {
    const { payment } = await tenant.liveClient.createPayment({ amount: 100n, currency: "USD" });
    expect(payment).toMatchObject({ status: PaymentStatus.FAILED, error: { reason: "NO_PROVIDER_AVAILABLE" }, attempts: [] });
  });
});
