import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { expectConnectorError, startWebhookReceiver, type WebhookReceiver } from "@onerouter/routing/testing";
import type { RunningEmulator } from "@onerouter/sandbox";
import { startSandboxProvider } from "@onerouter/sandbox";
import type { ConnectorContext, CreatePaymentInput } from "../connector";
import { newSandboxApiKey, sandboxConnector } from "./index";
import { loopbackTransport } from "@onerouter/routing/testing";

// The documented test payment-method tokens, the requires_action redirect
// with its webhook, and isolation between sandbox accounts.

let emulator: RunningEmulator;
let receiver: WebhookReceiver;
const apiKey = newSandboxApiKey();

beforeAll(async () => {
  emulator = await startSandboxProvider();
  receiver = await startWebhookReceiver("/webhooks/sandbox");
});
afterAll(async () => {
  await emulator?.close();
  await receiver?.close();
});

function ctx(key = apiKey): ConnectorContext {
  return { credentials: { api_key: key }, settings: { base_url: emulator.url, webhook_url: receiver.url }, timeoutMs: 5000, transport: loopbackTransport() };
}

let counter = 0;
function payment(overrides: Partial<CreatePaymentInput> = {}): CreatePaymentInput {
  counter += 1;
  return {
    attemptId: `att_tokens_${Date.now().toString(36)}_${counter}`,
    paymentId: `pay_tokens_${counter}`,
    amount: 4200n,
    currency: "EUR",
    captureMethod: "automatic",
    metadata: {},
    ...overrides,
  };
}

// The parsed webhooks the receiver got for a payment so far.
async function eventsFor(providerPaymentId: string) {
  const events = await Promise.all(receiver.received.map((d) => sandboxConnector.parseWebhook(ctx(), d)));
  return events.filter((e) => e.providerPaymentId === providerPaymentId);
}

describe("sandbox test tokens", () => {
  it("succeeds with no token", async () => {
    const result = await sandboxConnector.createPayment(ctx(), payment());
    expect(result.status).toBe("succeeded");
    expect(result.amountCaptured).toBe(4200n);
  });

  it("declines tok_sandbox_insufficient_funds with insufficient_funds", async () => {
    const result = await sandboxConnector.createPayment(
      ctx(),
      payment({ paymentMethodToken: "tok_sandbox_insufficient_funds" }),
    );
    expect(result.status).toBe("declined");
    expect(result.failure).toMatchObject({ reason: "PROVIDER_DECLINED", declineCode: "insufficient_funds" });
  });

  it("refuses tokens it does not know", async () => {
    const err = await expectConnectorError(sandboxConnector.createPayment(ctx(), payment({ paymentMethodToken: "tok_visa" })), "invalid_request");
    expect(err.details.providerCode).toBe("unknown_payment_method");
  });

  it("completes tok_sandbox_requires_action when the customer visits the redirect, and sends a signed webhook", async () => {
    const attempt = payment({ paymentMethodToken: "tok_sandbox_requires_action", returnUrl: "https://shop.example/done" });
    const created = await sandboxConnector.createPayment(ctx(), attempt);
    expect(created.status).toBe("requires_action");
    expect(created.redirectUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/authenticate\//);

    const visit = await fetch(created.redirectUrl!, { redirect: "manual" });
    expect(visit.status).toBe(302);
    expect(visit.headers.get("location")).toBe("https://shop.example/done");

    await vi.waitFor(async () => {
      const statuses = (await eventsFor(created.providerPaymentId)).map((e) => e.status);
      expect(statuses).toContain("succeeded");
    });
    const succeeded = (await eventsFor(created.providerPaymentId)).find((e) => e.status === "succeeded");
    expect(succeeded).toMatchObject({ kind: "payment", attemptId: attempt.attemptId, amountCaptured: 4200n });

    const synced = await sandboxConnector.syncPayment(ctx(), {
      attemptId: attempt.attemptId,
      providerPaymentId: created.providerPaymentId,
      amount: 4200n,
      currency: "EUR",
    });
    expect(synced?.status).toBe("succeeded");
  });

  it("leaves a manual-capture payment authorized after the action", async () => {
    const created = await sandboxConnector.createPayment(
      ctx(),
      payment({ paymentMethodToken: "tok_sandbox_requires_action", captureMethod: "manual" }),
    );
    const visit = await fetch(created.redirectUrl!);
    expect(visit.status).toBe(200);
    const synced = await sandboxConnector.syncPayment(ctx(), {
      attemptId: "unused",
      providerPaymentId: created.providerPaymentId,
      amount: 4200n,
      currency: "EUR",
    });
    expect(synced).toMatchObject({ status: "requires_capture", amountCapturable: 4200n });
  });

  it("keeps each API key's payments to its own account", async () => {
    const attempt = payment();
    const created = await sandboxConnector.createPayment(ctx(), attempt);
    const other = ctx(newSandboxApiKey());
    const sync = { attemptId: attempt.attemptId, amount: 4200n, currency: "EUR" };
    expect(await sandboxConnector.syncPayment(other, sync)).toBeNull();
    expect(await sandboxConnector.syncPayment(other, { ...sync, providerPaymentId: created.providerPaymentId })).toBeNull();
    // Another account's signature does not verify either.
    await vi.waitFor(() => expect(receiver.received.length).toBeGreaterThan(0));
    await expectConnectorError(sandboxConnector.parseWebhook(other, receiver.received[0]!), "invalid_signature");
  });
});
