import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PaymentService, type Payment } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { PaymentStatus } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { createTestDatabaseUrl, postgresAvailable } from "@onerouter/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../infra";
import { recordReliability } from "../reliability/record";
import { chaosClient, runCrashLoop, withKey } from "./support/crash-loop";
import { killAllChildren, killHard, startProduct, startSandboxProcess, type ProductProcess } from "./support/processes";
import { chaosTenant, productEnv, type ChaosTenant } from "./support/tenant";
import { countsAbove, describeCounts } from "./support/tally";

// `onerouter start` on Postgres, killed with SIGKILL while it takes payments
// from a sandbox provider in another process; every Idempotency-Key is
// retried until it gets an answer. A key must end with one charge at the
// provider and one SUCCEEDED payment, however often its call was cut.
describe.skipIf(!postgresAvailable())("kill -9 during CreatePayment", () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "onerouter-chaos-pay-"));
  let tenant: ChaosTenant | undefined;

  afterAll(async () => {
    await killAllChildren();
    await tenant?.db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("charges each Idempotency-Key exactly once across crashes", async () => {
    const started = Date.now();
    const sandbox = await startSandboxProcess();
    const databaseUrl = await createTestDatabaseUrl();
    // The provider takes a while, so kills land between its charge and the product's record of it.
    tenant = await chaosTenant(databaseUrl, sandbox.url, { added_latency_ms: "120" });
    const port = await freePort();
    const crashes = 4;
    let product: ProductProcess | undefined;
    const client = chaosClient(`http://127.0.0.1:${port}`, PaymentService, tenant.secret);

    const run = await runCrashLoop<Payment>({
      product: {
        start: async () => {
          product = await startProduct(port, productEnv(databaseUrl, dataDir, sandbox.url));
        },
        kill: () => killHard(product!.child),
      },
      crashes,
      concurrency: 70,
      answersBeforeKill: [10, 30],
      settleTimeoutMs: 75_000,
      budgetMs: 250_000,
      call: async (key) => {
        const res = await client.createPayment({ amount: 1999n, currency: "USD", metadata: { chaos_key: key } }, withKey(key));
        return res.payment!;
      },
    });

    const charges = (await sandbox.counts()).payments;
    const succeeded = (await tenant.db
      .knex("payments")
      .where({ tenant_id: tenant.tenantId, status: "succeeded" })
      .select(tenant.db.knex.raw("metadata->>'chaos_key' as key"), "id")) as { key: string; id: string }[];
    const succeededByKey = new Map<string, string[]>();
    for (const row of succeeded) succeededByKey.set(row.key, [...(succeededByKey.get(row.key) ?? []), row.id]);

    const doubleCharges = countsAbove(run.keys, (key) => charges[key] ?? 0, 1);
    const missingCharges = run.keys.filter((key) => run.answers.has(key) && (charges[key] ?? 0) === 0);
    const doublePayments = countsAbove(run.keys, (key) => succeededByKey.get(key)?.length ?? 0, 1);
    const notSucceeded = [...run.answers].filter(([, p]) => p.status !== PaymentStatus.SUCCEEDED);
    const answeredOther = [...run.answers].filter(([key, p]) => {
      const ids = succeededByKey.get(key) ?? [];
      return ids.length > 0 && !ids.includes(p.id);
    });
    const interrupted = run.interrupted.size;
    const tried = `${run.keys.length} keys, ${interrupted} cut by ${run.crashes} kill -9s`;
    const settle = `${(run.longestSettleMs / 1000).toFixed(1)} s`;
    recordReliability({
      suite: "chaos-kill-payments",
      source: "test/chaos/kill-payments.test.ts",
      durationMs: Date.now() - started,
      rows: [
        {
          check: "kill -9 during CreatePayment (Postgres), then retry every Idempotency-Key: charges at the provider",
          tried,
          expected: "0 double charges",
          found: describeCounts(doubleCharges, "double charge"),
          ok: doubleCharges.length === 0,
        },
        {
          check: "kill -9 during CreatePayment (Postgres), then retry: SUCCEEDED payments per key",
          tried,
          expected: "exactly 1 per key",
          found: `${describeCounts(doublePayments, "key")} with more than 1, ${notSucceeded.length} answered other than SUCCEEDED`,
          ok: doublePayments.length === 0 && notSucceeded.length === 0,
        },
        {
          check: "kill -9 during CreatePayment (Postgres), then retry: every key answered",
          tried,
          expected: "all answered, none refused",
          found: `${run.unanswered.length} unanswered, ${run.refused.size} refused; the last answered ${settle} after the restart (${run.inUseAnswers} IDEMPOTENCY_KEY_IN_USE on the way)`,
          ok: run.unanswered.length === 0 && run.refused.size === 0,
        },
      ],
    });

    expect(interrupted).toBeGreaterThanOrEqual(200);
    expect(run.unanswered).toEqual([]);
    expect([...run.refused].map(([key, err]) => `${key}: ${err.message}`)).toEqual([]);
    expect(doubleCharges, "keys charged more than once at the provider").toEqual([]);
    expect(missingCharges, "answered keys the provider never charged").toEqual([]);
    expect(doublePayments, "keys with more than one SUCCEEDED payment").toEqual([]);
    expect(notSucceeded.map(([key]) => key)).toEqual([]);
    expect(answeredOther.map(([key]) => key), "keys answered with a payment other than their SUCCEEDED one").toEqual([]);
  }, 295_000);
});
