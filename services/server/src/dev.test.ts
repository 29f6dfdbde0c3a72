import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import {
  AttemptStatus,
  CaptureMethod,
  PaymentService,
  PaymentStatus,
} from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { createApiKey } from "@onerouter/admin";
import { createLogger, loadConfig } from "@onerouter/core";
import { startDev, type DevEnvironment } from "./dev";

// What the README promises of `onerouter dev`: a payment through each
// provider, captured and refunded, the providers' signed webhooks arriving,
// and a failover when the primary's emulator is stopped.

const tokens = {
  stripe: "pm_card_visa",
  razorpay: "tok_success",
  paypal: "tok_paypal_success",
  sandbox: "tok_sandbox_success",
};

describe("onerouter dev", () => {
  let dev: DevEnvironment;
  let dataDir: string;
  let payments: ReturnType<typeof createClient<typeof PaymentService>>;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), "onerouter-dev-"));
    const config = loadConfig({ PORT: "0", HOST: "127.0.0.1", ONEROUTER_DATA_DIR: dataDir, LOG_LEVEL: "silent" });
    dev = await startDev(config, createLogger("silent"), { basePort: 0 });
    const { secret } = await createApiKey(dev.app.db.knex, {
      tenantId: dev.app.defaultTenantId,
      environment: Environment.TEST,
      name: "dev test",
      createdBy: "test",
    });
    payments = createClient(
      PaymentService,
      createConnectTransport({
        baseUrl: `http://127.0.0.1:${dev.app.server.port}`,
        interceptors: [
          (next) => (req) => {
            req.header.set("authorization", `Bearer ${secret}`);
            return next(req);
          },
        ],
      }),
    );
  });
  afterAll(async () => {
    await dev?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function inboundWebhooks(accountId: string): Promise<number> {
    const rows = await dev.app.db.knex("inbound_webhook_events").where({ provider_account_id: accountId });
    return rows.length;
  }

  async function eventually(check: () => Promise<boolean>, what: string) {
    const deadline = Date.now() + 15_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it.each([
    ["stripe", "USD", 2500n],
    ["razorpay", "INR", 50000n],
    ["paypal", "EUR", 1999n],
  ] as const)("takes, captures and refunds a payment through %s", async (provider, currency, amount) => {
    const { payment } = await payments.createPayment({
      amount,
      currency,
      captureMethod: CaptureMethod.MANUAL,
      paymentMethod: { providerTokens: tokens },
    });
    expect(payment).toMatchObject({ status: PaymentStatus.REQUIRES_CAPTURE, provider, providerAccountId: dev.accountIds[provider] });
    const captured = await payments.capturePayment({ id: payment!.id });
    expect(captured.payment).toMatchObject({ status: PaymentStatus.SUCCEEDED, amountCaptured: amount });
    const refunded = await payments.refundPayment({ paymentId: payment!.id, amount: amount / 2n });
    expect(refunded.payment?.amountRefunded).toBe(amount / 2n);
    // The provider's own signed webhooks reach the per-account URL and verify.
    await eventually(async () => (await inboundWebhooks(dev.accountIds[provider])) > 0, `${provider} webhooks`);
  });

  it("fails over to Razorpay while Stripe's emulator is down, and back when it returns", async () => {
    const stop = await fetch(`${dev.controlUrl}/emulators/stripe/failure`, { method: "POST", body: '{"mode":"down"}' });
    expect(stop.status).toBe(200);
    try {
      const { payment } = await payments.createPayment({ amount: 1200n, currency: "USD", paymentMethod: { providerTokens: tokens } });
      expect(payment).toMatchObject({ status: PaymentStatus.SUCCEEDED, provider: "razorpay" });
      expect(payment!.attempts.map((a) => [a.provider, a.status])).toEqual([
        ["stripe", AttemptStatus.FAILED],
        ["razorpay", AttemptStatus.SUCCEEDED],
      ]);
    } finally {
      await fetch(`${dev.controlUrl}/emulators/stripe/failure`, { method: "POST", body: '{"mode":"none"}' });
    }
    const { payment } = await payments.createPayment({ amount: 1300n, currency: "USD", paymentMethod: { providerTokens: tokens } });
    expect(payment?.provider).toBe("stripe");
  });
});
