import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { CaptureMethod, PaymentStatus } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { describeEachEngine } from "@onerouter/core/db/testing";
import type { RunningEmulator } from "@onerouter/emulators/harness";
import { startSandboxProvider } from "@onerouter/emulators/sandbox/index";
import { startTestOneRouter, type TestOneRouter } from "@onerouter/server/testing";
import { addSandboxAccount, failure, newTenant, sandboxPayments, setRoutingProfile, type TestTenant } from "./testing";

// Idempotency-Key on the payment API, against a sandbox server of the test's
// own so every charge it took can be counted.

describeEachEngine("PaymentService idempotency", (engine) => {
  let app: TestOneRouter;
  let sandbox: RunningEmulator;
  let tenant: TestTenant;
  let account: { id: string; apiKey: string };

  beforeAll(async () => {
    // The default limit (burst 200) would refuse part of the burst below.
    app = await startTestOneRouter({ engine, env: { ONEROUTER_RATE_LIMIT_BURST: "1000" } });
    sandbox = await startSandboxProvider();
    tenant = await newTenant(app, "Idempotent");
    account = await addSandboxAccount(app, tenant.id, { base_url: sandbox.url, added_latency_ms: "200" });
    await setRoutingProfile(app, tenant.id, { strategy: RoutingStrategy.PRIORITY, targets: [{ providerAccountId: account.id }] });
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
});
