import net from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, expect, it, vi } from "vitest";
import { RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { AttemptStatus, PaymentStatus, type Payment } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { describeEachEngine } from "@onerouter/core/testing";
import type { RunningEmulator } from "@onerouter/sandbox";
import { startSandboxProvider } from "@onerouter/sandbox";
import { addSandboxAccount, newTenant, paymentEvents, sandboxPayments, setRoutingProfile, type TestTenant, startTestPaymentsRoom, type TestPaymentsRoom } from "../test/index";

// Failing over between a primary and a secondary sandbox, each a sandbox
// server of its own so the test can break one and count what reaches it.

// Long enough that the payments made while the circuit is open finish inside it on a loaded machine.
const cooldownMs = 3000;

describeEachEngine("payment failover", (engine) => {
  let app: TestPaymentsRoom;
  let primary: RunningEmulator;
  let secondary: RunningEmulator;

  beforeAll(async () => {
    app = await startTestPaymentsRoom(engine, {
      ONEROUTER_BREAKER_FAILURES: "2",
      ONEROUTER_BREAKER_COOLDOWN_MS: String(cooldownMs),
      ONEROUTER_PROVIDER_TIMEOUT_MS: "400",
    });
    primary = await startSandboxProvider();
    secondary = await startSandboxProvider();
  });
  afterEach(async () => {
    await primary.setFailure({ mode: "none" });
    await secondary.setFailure({ mode: "none" });
  });
  afterAll(async () => {
    await app?.close();
    await primary?.close();
    await secondary?.close();
  });

  // A tenant routing to the primary first, then the secondary.
  async function pair(name: string, options: { failoverOnDecline?: boolean; primarySettings?: Record<string, string> } = {}) {
    const tenant = await newTenant(app, name);
    const first = await addSandboxAccount(app, tenant.id, { base_url: primary.url, ...options.primarySettings });
    const second = await addSandboxAccount(app, tenant.id, { base_url: secondary.url });
    await setRoutingProfile(app, tenant.id, {
      strategy: RoutingStrategy.PRIORITY,
      targets: [{ providerAccountId: first.id }, { providerAccountId: second.id }],
      failoverOnDecline: options.failoverOnDecline ?? false,
    });
    return { tenant, first, second };
  }

  const attempts = (payment: Payment | undefined) => payment!.attempts.map((a) => [a.providerAccountId, a.status]);

  async function circuitGauge(accountId: string): Promise<number | undefined> {
    const metrics = await (await fetch(`${app.baseUrl}/metrics`)).text();
    const line = metrics.split("\n").find((l) => l.startsWith("onerouter_circuit_state{") && l.includes(`provider_account_id="${accountId}"`));
    return line === undefined ? undefined : Number(line.split(" ").pop());
  }

  it("serves the payment from the secondary when the primary is down", async () => {
    const { tenant, first, second } = await pair("Down");
    await primary.setFailure({ mode: "down" });
    const { payment } = await tenant.client.createPayment({ amount: 1500n, currency: "USD" });
    expect(payment).toMatchObject({ status: PaymentStatus.SUCCEEDED, providerAccountId: second.id });
    expect(attempts(payment)).toEqual([
      [first.id, AttemptStatus.FAILED],
      [second.id, AttemptStatus.SUCCEEDED],
    ]);
    expect(payment!.attempts[0]!.error).toMatchObject({ reason: "PROVIDER_UNAVAILABLE", provider: "sandbox" });
    expect(await sandboxPayments(secondary.url, second.apiKey)).toHaveLength(1);
  });

  it("stops calling a failing primary once its circuit opens, and closes it with a probe after the cooldown", async () => {
    const { tenant, first, second } = await pair("Breaker");
    await primary.setFailure({ mode: "error_5xx" });
    const before = primary.requestCount();
    for (let i = 0; i < 2; i++) {
      const { payment } = await tenant.client.createPayment({ amount: 100n, currency: "USD" });
      expect(attempts(payment)).toEqual([
        [first.id, AttemptStatus.FAILED],
        [second.id, AttemptStatus.SUCCEEDED],
      ]);
    }
    expect(primary.requestCount()).toBe(before + 2);
    expect(await circuitGauge(first.id)).toBe(2);

    // Open: the primary is skipped without a call.
    const skipped = (await tenant.client.createPayment({ amount: 100n, currency: "USD" })).payment;
    expect(attempts(skipped)).toEqual([[second.id, AttemptStatus.SUCCEEDED]]);
    expect(primary.requestCount()).toBe(before + 2);

    await primary.setFailure({ mode: "none" });
    await new Promise((r) => setTimeout(r, cooldownMs + 50));
    expect(await circuitGauge(first.id)).toBe(1);
    // Half-open: this payment still goes to the secondary while a health
    // check, not a customer's payment, finds out whether the primary is back.
    const whileProbing = (await tenant.client.createPayment({ amount: 100n, currency: "USD" })).payment;
    expect(attempts(whileProbing)).toEqual([[second.id, AttemptStatus.SUCCEEDED]]);
    await vi.waitFor(async () => expect(await circuitGauge(first.id)).toBe(0));
    expect(await sandboxPayments(primary.url, first.apiKey)).toHaveLength(0);
    const afterProbe = (await tenant.client.createPayment({ amount: 100n, currency: "USD" })).payment;
    expect(attempts(afterProbe)).toEqual([[first.id, AttemptStatus.SUCCEEDED]]);
  });

  it("opens the circuit on a run of ambiguous failures, so new payments stop going to the provider", async () => {
    const { tenant, first, second } = await pair("Storm");
    // A proxy in front of the primary answers 502: whether the payment was taken is unknown.
    await primary.setFailure({ mode: "proxy_error", status: 502 });
    // Each ambiguous payment stays with the primary (it is not failed over);
    // the failures, its status checks included, open the circuit within the threshold.
    const ambiguous: Payment[] = [];
    for (;;) {
      const { payment } = await tenant.client.createPayment({ amount: 100n, currency: "USD" });
      if (payment!.attempts[0]!.providerAccountId !== first.id) break;
      expect(attempts(payment)).toEqual([[first.id, AttemptStatus.UNKNOWN]]);
      ambiguous.push(payment!);
      expect(ambiguous.length).toBeLessThanOrEqual(2);
    }
    expect(ambiguous.length).toBeGreaterThan(0);
    expect(await circuitGauge(first.id)).toBe(2);
    const next = (await tenant.client.createPayment({ amount: 100n, currency: "USD" })).payment;
    expect(next).toMatchObject({ status: PaymentStatus.SUCCEEDED });
    expect(attempts(next)).toEqual([[second.id, AttemptStatus.SUCCEEDED]]);
  });

  it("fails the payment with NO_PROVIDER_AVAILABLE when every provider is down", async () => {
    const { tenant } = await pair("AllDown");
    await primary.setFailure({ mode: "down" });
    await secondary.setFailure({ mode: "down" });
    const { payment } = await tenant.client.createPayment({ amount: 100n, currency: "USD" });
    expect(payment).toMatchObject({ status: PaymentStatus.FAILED, error: { reason: "NO_PROVIDER_AVAILABLE" } });
    expect(payment!.attempts.map((a) => a.status)).toEqual([AttemptStatus.FAILED, AttemptStatus.FAILED]);
    expect((await paymentEvents(app, payment!.id)).map((e) => e.type)).toEqual(["payment.created", "payment.failed"]);
  });

  it("never charges a second provider after a timeout, and resolves the attempt by asking the first", async () => {
    const { tenant, first, second } = await pair("Timeout");
    // The primary takes the payment but never answers, reads included.
    await primary.setFailure({ mode: "timeout_after_accept" });
    const secondaryCalls = secondary.requestCount();
    const { payment } = await tenant.client.createPayment({ amount: 4200n, currency: "USD" });
    expect(payment).toMatchObject({ status: PaymentStatus.PROCESSING, providerAccountId: first.id });
    expect(attempts(payment)).toEqual([[first.id, AttemptStatus.UNKNOWN]]);
    expect(payment!.attempts[0]!.error?.reason).toBe("PROVIDER_TIMEOUT");
    expect(secondary.requestCount()).toBe(secondaryCalls);

    await primary.setFailure({ mode: "none" });
    const resolved = (await tenant.client.getPayment({ id: payment!.id })).payment;
    expect(resolved).toMatchObject({ status: PaymentStatus.SUCCEEDED, providerAccountId: first.id, amountCaptured: 4200n });
    expect(attempts(resolved)).toEqual([[first.id, AttemptStatus.SUCCEEDED]]);
    expect(await sandboxPayments(primary.url, first.apiKey)).toHaveLength(1);
    expect(await sandboxPayments(secondary.url, second.apiKey)).toHaveLength(0);
    expect((await paymentEvents(app, payment!.id)).map((e) => e.type)).toEqual(["payment.created", "payment.succeeded"]);
  });

  it("fails over after all once the first provider shows it never got the ambiguous call", async () => {
    // A listener that accepts connections and never answers: the call is
    // ambiguous, and so is asking it.
    const blackHole = net.createServer(() => undefined);
    await new Promise<void>((resolve) => blackHole.listen(0, "127.0.0.1", resolve));
    try {
      const silent = `http://127.0.0.1:${(blackHole.address() as AddressInfo).port}`;
      const { tenant, first, second } = await pair("NeverGot", { primarySettings: { base_url: silent } });
      const { payment } = await tenant.client.createPayment({ amount: 800n, currency: "USD" });
      expect(attempts(payment)).toEqual([[first.id, AttemptStatus.UNKNOWN]]);

      // The account turns out to be a provider that can answer, and has no record of the attempt.
      app.providerOutbound.allowBaseUrls(primary.url);
      await app.accounts.update({ tenantId: tenant.id, environment: "test" }, first.id, { settings: { base_url: primary.url } });
      const resolved = (await tenant.client.getPayment({ id: payment!.id })).payment;
      expect(resolved).toMatchObject({ status: PaymentStatus.SUCCEEDED, providerAccountId: second.id });
      expect(attempts(resolved)).toEqual([
        [first.id, AttemptStatus.FAILED],
        [second.id, AttemptStatus.SUCCEEDED],
      ]);
      expect(resolved!.attempts[0]!.error?.reason).toBe("PROVIDER_NO_RECORD");
    } finally {
      blackHole.close();
    }
  });

  it("resolves unknown attempts in the background too", async () => {
    const { tenant, first } = await pair("Background");
    await primary.setFailure({ mode: "timeout_after_accept" });
    const { payment } = await tenant.client.createPayment({ amount: 100n, currency: "USD" });
    expect(attempts(payment)).toEqual([[first.id, AttemptStatus.UNKNOWN]]);
    await primary.setFailure({ mode: "none" });
    // The resolver leaves an attempt alone for one provider timeout after it was last asked about.
    await vi.waitFor(
      async () => {
        await app.engine.resolvePending();
        const row = (await app.db.knex("payments").where({ id: payment!.id }).first()) as { status: string };
        expect(row.status).toBe("succeeded");
      },
      { timeout: 5000, interval: 200 },
    );
  });

  it("treats a decline as an answer: no failover unless the profile asks for it", async () => {
    const plain = await pair("Decline");
    const declined = (
      await plain.tenant.client.createPayment({ amount: 100n, currency: "USD", paymentMethod: { token: "tok_sandbox_decline" } })
    ).payment;
    expect(declined).toMatchObject({ status: PaymentStatus.FAILED, error: { reason: "PROVIDER_DECLINED", declineCode: "generic_decline" } });
    expect(attempts(declined)).toEqual([[plain.first.id, AttemptStatus.DECLINED]]);
    expect(await sandboxPayments(secondary.url, plain.second.apiKey)).toHaveLength(0);

    const failingOver = await pair("DeclineFailover", { failoverOnDecline: true });
    const retried = (
      await failingOver.tenant.client.createPayment({
        amount: 100n,
        currency: "USD",
        paymentMethod: { token: "tok_sandbox_insufficient_funds" },
      })
    ).payment;
    // Both sandboxes decline this card, so both were asked and the last decline stands.
    expect(attempts(retried)).toEqual([
      [failingOver.first.id, AttemptStatus.DECLINED],
      [failingOver.second.id, AttemptStatus.DECLINED],
    ]);
    expect(retried).toMatchObject({ status: PaymentStatus.FAILED, error: { declineCode: "insufficient_funds" } });
  });

  it("does not fail a request the provider refuses over to another provider", async () => {
    const { tenant, first } = await pair("Refused");
    const { payment } = await tenant.client.createPayment({ amount: 100n, currency: "USD", paymentMethod: { token: "tok_unknown" } });
    expect(payment).toMatchObject({ status: PaymentStatus.FAILED, error: { reason: "PROVIDER_INVALID_REQUEST" } });
    expect(attempts(payment)).toEqual([[first.id, AttemptStatus.FAILED]]);
  });
});
