import { timestampDate } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CircuitState, HealthStatus, ProviderAccountService, type ProviderHealth } from "@onerouter/client/gen/onerouter/admin/v1/provider_accounts_pb";
import { Category } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { WebhookService } from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import { twilioEmulator } from "@onerouter/emulators/twilio";
import { addTestAccount, newTestTenant } from "@onerouter/routing/testing";
import { startEmulator, type RunningEmulator } from "@onerouter/sandbox";
import { startReceiver, waitFor, type Receiver } from "@onerouter/webhooks/testing";
import { apiClient, startTestOneRouter, type TestOneRouter } from "../test/index";

// Provider health over the whole product: the background prober checks each
// account with its connector's cheap authenticated call against a real
// emulator, the API shows what it found, and the circuit breaker's
// transitions reach the tenant's webhook endpoint as events.

const probeIntervalMs = 400;
const degradedAfterMs = 200;

const withStatus = (health: ProviderHealth | undefined, status: HealthStatus) => health?.status === status && health;
const accountSid = "AC0123456789abcdef0123456789abcdef";
const authToken = "0123456789abcdef0123456789abcdef";

describe("provider health", () => {
  let app: TestOneRouter;
  let emulator: RunningEmulator;
  let receiver: Receiver;

  beforeAll(async () => {
    app = await startTestOneRouter({
      env: {
        ONEROUTER_PROVIDER_PROBE_INTERVAL_MS: String(probeIntervalMs),
        ONEROUTER_PROVIDER_DEGRADED_AFTER_MS: String(degradedAfterMs),
        // One probe the provider did not answer opens the circuit.
        ONEROUTER_BREAKER_FAILURES: "1",
        ONEROUTER_WEBHOOK_ALLOWED_CIDRS: "127.0.0.0/8",
        ONEROUTER_WEBHOOK_POLL_MS: "50",
      },
    });
    emulator = await startEmulator(twilioEmulator({ accountSid, authToken }));
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await app?.close();
    await emulator?.close();
    await receiver?.close();
  });

  const delivered = (type: string, accountId: string) =>
    receiver.requests
      .map((r) => JSON.parse(r.body) as { type: string; providerAccount?: { providerAccountId: string; provider: string; reason: string; process: string } })
      .filter((e) => e.type === type && e.providerAccount?.providerAccountId === accountId);

  it("turns an account down within one probe interval of its provider going away, and healthy again after, telling the endpoint", async () => {
    const tenant = await newTestTenant(app, "Health");
    const accounts = apiClient(app, ProviderAccountService, tenant.testSecret);
    const webhooks = apiClient(app, WebhookService, tenant.testSecret);
    await webhooks.createEndpoint({ url: receiver.url, eventTypes: ["provider_account.*"] });
    const { id } = await addTestAccount(app, tenant.id, {
      category: "messaging",
      provider: "twilio",
      credentials: { account_sid: accountSid, auth_token: authToken },
      settings: { base_url: emulator.url, default_from: "+14155550199" },
    });
    const health = async () => (await accounts.getProviderAccount({ id })).providerAccount!.health;

    const healthy = await waitFor("the first probe", async () => withStatus(await health(), HealthStatus.HEALTHY), 10_000);
    expect(healthy.error).toBeUndefined();
    expect(healthy.responseTime).toBeDefined();
    // The listing shows it too.
    const listed = await accounts.listProviderAccounts({ category: Category.MESSAGING });
    expect(listed.providerAccounts.find((a) => a.id === id)?.health?.status).toBe(HealthStatus.HEALTHY);

    await emulator.setFailure({ mode: "down" });
    const wentDown = Date.now();
    const down = await waitFor("the account down", async () => withStatus(await health(), HealthStatus.DOWN), 10_000);
    // The first probe made after the outage found it: within one interval (and the timer's slack).
    expect(timestampDate(down.lastCheckTime!).getTime() - wentDown).toBeLessThanOrEqual(probeIntervalMs + 100);
    expect(down.error).toMatchObject({ provider: "twilio" });
    await waitFor("circuit_opened at the endpoint", async () => delivered("provider_account.circuit_opened", id).length > 0);
    expect(delivered("provider_account.circuit_opened", id)[0]!.providerAccount).toMatchObject({
      provider: "twilio",
      reason: "1 consecutive calls the provider did not answer",
      process: expect.stringMatching(/:\d+$/),
    });
    expect(delivered("provider_account.circuit_closed", id)).toHaveLength(0);

    await emulator.setFailure({ mode: "none" });
    const cameBack = Date.now();
    const again = await waitFor("the account healthy again", async () => withStatus(await health(), HealthStatus.HEALTHY), 10_000);
    expect(timestampDate(again.lastCheckTime!).getTime() - cameBack).toBeLessThanOrEqual(probeIntervalMs + 100);
    await waitFor("circuit_closed at the endpoint", async () => delivered("provider_account.circuit_closed", id).length > 0);
    // One outage, one process: one event each way, however many probes failed.
    await new Promise((resolve) => setTimeout(resolve, probeIntervalMs * 2));
    expect(delivered("provider_account.circuit_opened", id)).toHaveLength(1);
    expect(delivered("provider_account.circuit_closed", id)).toHaveLength(1);
  });

  it("shows an answer slower than the threshold as degraded, without opening the circuit", async () => {
    const tenant = await newTestTenant(app, "Slow");
    const { id } = await addTestAccount(app, tenant.id, {
      category: "messaging",
      provider: "twilio",
      credentials: { account_sid: accountSid, auth_token: authToken },
      settings: { base_url: emulator.url },
    });
    const accounts = apiClient(app, ProviderAccountService, tenant.testSecret);
    const health = async () => (await accounts.getProviderAccount({ id })).providerAccount;
    await emulator.setFailure({ mode: "slow", delayMs: degradedAfterMs * 3 });
    try {
      const degraded = await waitFor("the account degraded", async () => withStatus((await health())!.health, HealthStatus.DEGRADED), 10_000);
      expect(Number(degraded.responseTime!.nanos) / 1e6 + Number(degraded.responseTime!.seconds) * 1000).toBeGreaterThanOrEqual(degradedAfterMs * 3);
      expect((await health())!.circuitState).toBe(CircuitState.CLOSED);
    } finally {
      await emulator.setFailure({ mode: "none" });
    }
  });

  it("never holds up shutdown for a probe the provider does not answer", async () => {
    const held = await startEmulator(twilioEmulator({ accountSid, authToken }));
    await held.setFailure({ mode: "timeout_after_accept" });
    const server = await startTestOneRouter({ env: { ONEROUTER_PROVIDER_PROBE_INTERVAL_MS: "100", ONEROUTER_PROVIDER_TIMEOUT_MS: "60000" } });
    try {
      const tenant = await newTestTenant(server, "Held");
      await addTestAccount(server, tenant.id, {
        category: "messaging",
        provider: "twilio",
        credentials: { account_sid: accountSid, auth_token: authToken },
        settings: { base_url: held.url },
      });
      await waitFor("a probe in flight", async () => held.requestCount() > 0, 10_000);
    } finally {
      const closing = Date.now();
      await server.close();
      // The probe would wait a minute for its answer; closing abandons it.
      expect(Date.now() - closing).toBeLessThan(10_000);
      await held.close();
    }
  });
});
