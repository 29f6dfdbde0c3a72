import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { AttemptStatus, PaymentStatus } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { describeEachEngine } from "@onerouter/core/testing";
import type { RunningEmulator } from "@onerouter/sandbox";
import { sandboxEvent, signSandboxEvent, startSandboxProvider } from "@onerouter/sandbox";
import { addSandboxAccount, newTenant, paymentEvents, setRoutingProfile, type TestTenant, startTestPaymentsRoom, type TestPaymentsRoom } from "../test/index";

// Provider webhooks arriving at /webhooks/inbound/<provider>/<account id>.

describeEachEngine("inbound payment webhooks", (engine) => {
  let app: TestPaymentsRoom;
  let sandbox: RunningEmulator;
  let tenant: TestTenant;
  let account: { id: string; apiKey: string };

  beforeAll(async () => {
    // Accounts cached until a change notice, as the product serves them.
    app = await startTestPaymentsRoom(engine, undefined, { changeNotices: true });
    // A sandbox of the test's own that sends no webhooks: the test sends them.
    sandbox = await startSandboxProvider();
    tenant = await newTenant(app, "Hooked");
    account = await addSandboxAccount(app, tenant.id, { base_url: sandbox.url });
    await setRoutingProfile(app, tenant.id, { strategy: RoutingStrategy.PRIORITY, targets: [{ providerAccountId: account.id }] });
  });
  afterAll(async () => {
    await app?.close();
    await sandbox?.close();
  });

  const webhookUrl = (accountId = account.id, provider = "sandbox") => `${app.baseUrl}/webhooks/inbound/${provider}/${accountId}`;

  async function post(body: string, headers: Record<string, string>, url = webhookUrl()) {
    const res = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  // A payment waiting for the customer, completed at the sandbox as if the
  // customer had visited the redirect, and the sandbox's signed event about it.
  async function completedElsewhere() {
    const { payment } = await tenant.client.createPayment({
      amount: 1200n,
      currency: "USD",
      paymentMethod: { token: "tok_sandbox_requires_action" },
    });
    expect(payment?.status).toBe(PaymentStatus.REQUIRES_ACTION);
    const redirect = payment!.nextAction!.action.value!.url;
    expect((await fetch(redirect)).status).toBe(200);
    const res = await fetch(`${sandbox.url}/v1/payments/${payment!.providerPaymentId}`, {
      headers: { authorization: `Bearer ${account.apiKey}` },
    });
    const object = (await res.json()) as { status: string };
    expect(object.status).toBe("succeeded");
    return { payment: payment!, event: sandboxEvent("payment.succeeded", object), object };
  }

  it("applies a verified event once, and acknowledges a duplicate without applying it again", async () => {
    const { payment, event } = await completedElsewhere();
    const { body, headers } = signSandboxEvent(account.apiKey, event);
    expect(await post(body, headers)).toEqual({ status: 200, body: { received: true, duplicate: false } });
    expect((await tenant.client.getPayment({ id: payment.id })).payment).toMatchObject({
      status: PaymentStatus.SUCCEEDED,
      amountCaptured: 1200n,
    });
    // The provider delivers again, freshly signed.
    const again = signSandboxEvent(account.apiKey, event);
    expect(await post(again.body, again.headers)).toEqual({ status: 200, body: { received: true, duplicate: true } });

    expect((await paymentEvents(app, payment.id)).map((e) => e.type)).toEqual([
      "payment.created",
      "payment.requires_action",
      "payment.succeeded",
    ]);
    const stored = (await app.db.knex("inbound_provider_events").where({ provider_event_id: event.id })) as { payload: Uint8Array }[];
    expect(stored).toHaveLength(1);
    expect(Buffer.from(stored[0]!.payload).toString("utf8")).toBe(body);
  });

  it("stores an event that reports a state already recorded in one statement, and applies news once however often it comes at once", async () => {
    const { payment, event, object } = await completedElsewhere();
    const copies = [signSandboxEvent(account.apiKey, event), signSandboxEvent(account.apiKey, event)];
    const answers = await Promise.all(copies.map((copy) => post(copy.body, copy.headers)));
    expect(answers.map((a) => a.body.duplicate).sort()).toEqual([false, true]);
    expect((await paymentEvents(app, payment.id)).filter((e) => e.type === "payment.succeeded")).toHaveLength(1);

    // The provider's later events say "succeeded" again: nothing to apply.
    let statements = 0;
    const count = () => (statements += 1);
    app.db.knex.on("query", count);
    try {
      const statementsOfNewsFree = async () => {
        const { body, headers } = signSandboxEvent(account.apiKey, sandboxEvent("payment.succeeded", object));
        const before = statements;
        expect(await post(body, headers)).toEqual({ status: 200, body: { received: true, duplicate: false } });
        return statements - before;
      };
      // Once the account is cached (a notice of the test's own writes may still drop it).
      await expect.poll(statementsOfNewsFree).toBe(1);
    } finally {
      app.db.knex.off("query", count);
    }
    expect((await paymentEvents(app, payment.id)).filter((e) => e.type === "payment.succeeded")).toHaveLength(1);
  });

  it("settles an attempt whose outcome was unknown from the provider's event", async () => {
    const { payment, event } = await completedElsewhere();
    // As a call that timed out after sending leaves it.
    await app.db.knex("payment_attempts").where({ payment_id: payment.id }).update({ status: "unknown" });
    await app.db.knex("payments").where({ id: payment.id }).update({ status: "processing" });
    const { body, headers } = signSandboxEvent(account.apiKey, event);
    expect(await post(body, headers)).toEqual({ status: 200, body: { received: true, duplicate: false } });
    const { payment: settled } = await tenant.client.getPayment({ id: payment.id });
    expect(settled?.status).toBe(PaymentStatus.SUCCEEDED);
    expect(settled?.attempts.map((a) => a.status)).toEqual([AttemptStatus.SUCCEEDED]);
  });

  it("refuses a rotated account's old signatures and a deleted account's webhooks once the change is heard", async () => {
    const other = await addSandboxAccount(app, tenant.id, { base_url: sandbox.url });
    const postSigned = (apiKey: string) => {
      const { body, headers } = signSandboxEvent(apiKey, sandboxEvent("account.updated", {}));
      return post(body, headers, webhookUrl(other.id)).then((answer) => answer.status);
    };
    expect(await postSigned(other.apiKey)).toBe(200);
    const scope = { tenantId: tenant.id, environment: "test" } as const;
    const rotated = `sk_sandbox_${"r".repeat(32)}`;
    await app.accounts.update(scope, other.id, { credentials: { api_key: rotated } });
    await expect.poll(() => postSigned(other.apiKey)).toBe(400);
    expect(await postSigned(rotated)).toBe(200);
    await app.accounts.delete(scope, other.id);
    await expect.poll(() => postSigned(rotated)).toBe(404);
  });

  it("rejects a forged signature, a stale timestamp and an unsigned body with 400, applying nothing", async () => {
    const { payment, event } = await completedElsewhere();
    const { body, headers } = signSandboxEvent(account.apiKey, event);
    const forged = body.replace('"succeeded"', '"canceled"');
    const stale = signSandboxEvent(account.apiKey, event, new Date(Date.now() - 3600_000));
    const otherKey = signSandboxEvent(`sk_sandbox_${"x".repeat(32)}`, event);
    for (const [rawBody, sent] of [
      [forged, headers],
      [stale.body, stale.headers],
      [otherKey.body, otherKey.headers],
      [body, {}],
    ] as const) {
      expect((await post(rawBody, sent)).status).toBe(400);
    }
    expect((await tenant.client.getPayment({ id: payment.id })).payment?.status).toBe(PaymentStatus.REQUIRES_ACTION);
    expect(await app.db.knex("inbound_provider_events").where({ provider_event_id: event.id })).toHaveLength(0);
  });

  it("answers 404 for an account it does not know, and 405 to anything but POST", async () => {
    const { body, headers } = signSandboxEvent(account.apiKey, sandboxEvent("payment.succeeded", {}));
    expect((await post(body, headers, webhookUrl("pa_unknown"))).status).toBe(404);
    const res = await fetch(webhookUrl(), { method: "GET" });
    expect(res.status).toBe(405);
    await res.arrayBuffer();
  });

  it("completes a built-in sandbox payment from the sandbox's own webhook", async () => {
    // A new tenant's sandbox account uses the in-process sandbox, which sends
    // its webhooks back to this server.
    const { id, client } = await newTenant(app, "BuiltIn");
    await app.ensureSandboxDefaults(id);
    const { payment } = await client.createPayment({ amount: 900n, currency: "USD", paymentMethod: { token: "tok_sandbox_requires_action" } });
    expect(payment?.status).toBe(PaymentStatus.REQUIRES_ACTION);
    expect((await fetch(payment!.nextAction!.action.value!.url)).status).toBe(200);
    // The webhook goes out after the sandbox answers; on a loaded machine it
    // can take longer than waitFor's default second to be applied.
    await vi.waitFor(async () => {
      expect((await client.getPayment({ id: payment!.id })).payment?.status).toBe(PaymentStatus.SUCCEEDED);
    }, { timeout: 5000, interval: 50 });
  });
});
