import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectConnectorError } from "@onerouter/routing/testing";
import type { RunningEmulator } from "@onerouter/sandbox";
import { startSandboxProvider } from "@onerouter/sandbox";
import type { ConnectorContext, CreatePaymentInput } from "../connector";
import { newSandboxApiKey, sandboxConnector } from "./index";
import { loopbackTransport } from "@onerouter/routing/testing";

// The account settings that make one shared sandbox simulate a different
// provider condition for each account.

let emulator: RunningEmulator;
const apiKey = newSandboxApiKey();

beforeAll(async () => {
  emulator = await startSandboxProvider();
});
afterAll(async () => {
  await emulator?.close();
});

function ctx(settings: Record<string, string> = {}, timeoutMs = 5000): ConnectorContext {
  return { credentials: { api_key: apiKey }, settings: { base_url: emulator.url, ...settings }, timeoutMs, transport: loopbackTransport() };
}

let counter = 0;
function payment(): CreatePaymentInput {
  counter += 1;
  return {
    attemptId: `att_settings_${Date.now().toString(36)}_${counter}`,
    paymentId: `pay_settings_${counter}`,
    amount: 2500n,
    currency: "USD",
    captureMethod: "automatic",
    paymentMethodToken: "tok_sandbox_success",
    metadata: {},
  };
}

describe("sandbox account settings", () => {
  it("simulate_outage fails every call as connection refused without reaching the sandbox", async () => {
    const outage = ctx({ simulate_outage: "true" });
    const before = emulator.requestCount();
    for (const call of [
      sandboxConnector.createPayment(outage, payment()),
      sandboxConnector.testCredentials(outage),
      sandboxConnector.syncPayment(outage, { attemptId: "att_outage", amount: 1n, currency: "USD" }),
    ]) {
      const err = await expectConnectorError(call);
      expect(err.kind).toBe("not_processed");
      expect(err.details.reason).toBe("PROVIDER_UNAVAILABLE");
    }
    expect(emulator.requestCount()).toBe(before);
  });

  it("added_latency_ms delays the sandbox's answer", async () => {
    const started = performance.now();
    const result = await sandboxConnector.createPayment(ctx({ added_latency_ms: "300" }), payment());
    expect(result.status).toBe("succeeded");
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it("added_latency_ms beyond the call's budget is ambiguous, and sync finds the payment", async () => {
    const slow = payment();
    const err = await expectConnectorError(sandboxConnector.createPayment(ctx({ added_latency_ms: "400" }, 100), slow));
    expect(err.kind).toBe("ambiguous");
    expect(err.details.reason).toBe("PROVIDER_TIMEOUT");
    // The sandbox finishes the sleep and processes the request anyway.
    await new Promise((r) => setTimeout(r, 500));
    const synced = await sandboxConnector.syncPayment(ctx(), { attemptId: slow.attemptId, amount: 2500n, currency: "USD" });
    expect(synced?.status).toBe("succeeded");
  });

  it("simulate_timeout takes the money, never answers, and sync finds the payment", async () => {
    const lost = payment();
    const timingOut = ctx({ simulate_timeout: "true" }, 300);
    const err = await expectConnectorError(sandboxConnector.createPayment(timingOut, lost));
    expect(err.kind).toBe("ambiguous");
    expect(err.details.reason).toBe("PROVIDER_TIMEOUT");
    // Reads still answer, so the core can resolve the attempt while the setting is on.
    const synced = await sandboxConnector.syncPayment(timingOut, { attemptId: lost.attemptId, amount: 2500n, currency: "USD" });
    expect(synced?.status).toBe("succeeded");
    expect(synced?.amountCaptured).toBe(2500n);
    // Retrying the attempt replays the stored answer instead of charging again.
    const retried = await sandboxConnector.createPayment(ctx(), lost);
    expect(retried.providerPaymentId).toBe(synced?.providerPaymentId);
  });

  it("failure_rate=1 answers every call with a not-processed 503 and takes no money", async () => {
    const failing = ctx({ failure_rate: "1" });
    const attempts = [payment(), payment(), payment()];
    for (const attempt of attempts) {
      const err = await expectConnectorError(sandboxConnector.createPayment(failing, attempt));
      expect(err.kind).toBe("not_processed");
      expect(err.details.reason).toBe("PROVIDER_UNAVAILABLE");
      expect(err.details.httpStatus).toBe(503);
    }
    for (const attempt of attempts) {
      expect(await sandboxConnector.syncPayment(ctx(), { attemptId: attempt.attemptId, amount: 2500n, currency: "USD" })).toBeNull();
    }
  });

  it("failure_rate=0 never fails", async () => {
    const healthy = ctx({ failure_rate: "0" });
    for (let i = 0; i < 20; i += 1) {
      expect((await sandboxConnector.createPayment(healthy, payment())).status).toBe("succeeded");
    }
  });

  it("rejects malformed settings as invalid requests", async () => {
    const malformed: Record<string, string>[] = [{ failure_rate: "1.5" }, { failure_rate: "often" }, { added_latency_ms: "soon" }];
    for (const settings of malformed) {
      const err = await expectConnectorError(sandboxConnector.createPayment(ctx(settings), payment()));
      expect(err.kind, JSON.stringify(settings)).toBe("invalid_request");
      expect(err.details.providerCode).toBe("invalid_sandbox_header");
    }
  });
});
