import { randomBytes } from "node:crypto";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FeeSchema, RoutingProfileSchema, RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { AttemptStatus, type Payment } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { CircuitBreakers, ConnectorRegistry, ProviderAccountStore, ProviderOutbound, RoutingProfileStore, routingMigrations } from "@onerouter/routing";
import { adminMigrations } from "@onerouter/admin";
import { MasterKeyring, newId, outboxMigrations, type Database } from "@onerouter/core";
import { createTestDatabase, describeEachEngine } from "@onerouter/core/testing";
import type { RunningEmulator } from "@onerouter/sandbox";
import { startSandboxProvider } from "@onerouter/sandbox";
import { paymentConnectors } from "./connectors/index";
import { newSandboxApiKey, sandboxConnector } from "./connectors/sandbox/index";
import { PaymentEngine } from "./engine";
import { paymentsMigrations } from "./migrations";
import type { NewPayment } from "./store";

// Provider selection by the engine. A second provider with its own price
// list is the sandbox connector registered again under another name,
// talking to the same sandbox server.

const budget = {
  connector: { ...sandboxConnector, name: "budget" },
  defaultFees: [
    create(FeeSchema, { provider: "budget", currency: "USD", percentageBps: 150, fixedMicros: 500_000n }),
    create(FeeSchema, { provider: "budget", currency: "INR", percentageBps: 350 }),
  ],
};

function payment(amount: bigint, currency: string, token = "tok_sandbox_success"): NewPayment {
  return { amount, currency, captureMethod: "automatic", customer: {}, description: "", metadata: {}, paymentMethodToken: token, paymentMethodProviderTokens: {}, returnUrl: "" };
}

describeEachEngine("payment routing", (engine) => {
  let db: Database;
  let sandbox: RunningEmulator;
  let payments: PaymentEngine;
  let profiles: RoutingProfileStore;
  let scope: { tenantId: string; environment: "test" };
  const accountIds: Record<string, string> = {};

  beforeAll(async () => {
    db = await createTestDatabase(engine);
    await db.migrate([...adminMigrations, ...outboxMigrations, ...routingMigrations, ...paymentsMigrations]);
    sandbox = await startSandboxProvider();
    scope = { tenantId: newId("ten"), environment: "test" };
    await db.knex("tenants").insert({ id: scope.tenantId, name: "Router" });
    const accounts = new ProviderAccountStore(db.knex, new MasterKeyring(randomBytes(32)));
    profiles = new RoutingProfileStore(db.knex);
    for (const provider of ["sandbox", "budget"]) {
      const account = await accounts.create({
        ...scope,
        provider,
        category: "payments",
        displayName: provider,
        credentials: { api_key: newSandboxApiKey() },
        settings: { base_url: sandbox.url },
        enabled: true,
      });
      accountIds[provider] = account.id;
    }
    payments = new PaymentEngine({
      knex: db.knex,
      accounts,
      profiles,
      breakers: new CircuitBreakers({ failureThreshold: 5, cooldownMs: 30_000 }),
      connectors: new ConnectorRegistry({
        outbound: new ProviderOutbound({ baseUrls: [sandbox.url], allowedCidrs: ["127.0.0.0/8"] }),
        providerTimeoutMs: 5000,
      }).register("payments", [...paymentConnectors(), budget]),
    });
  });
  afterAll(async () => {
    await db?.close();
    await sandbox?.close();
  });

  const route = (profile: MessageInitShape<typeof RoutingProfileSchema>) =>
    profiles.put({ ...scope, category: "payments" }, create(RoutingProfileSchema, profile));
  const served = (p: Payment) => [p.provider, p.attempts.map((a) => a.estimatedFee)];
  const bothTargets = () => [{ providerAccountId: accountIds.sandbox! }, { providerAccountId: accountIds.budget! }];

  it("picks the cheapest provider for the currency and amount, recording the estimate on the attempt", async () => {
    await route({ strategy: RoutingStrategy.CHEAPEST, targets: bothTargets() });
    // USD 100.00: sandbox 2.9 % + 0.30 = 3.20, budget 1.5 % + 0.50 = 2.00.
    expect(served(await payments.createPayment(scope, payment(10_000n, "USD")))).toEqual(["budget", [200n]]);
    // USD 5.00: sandbox 0.15 + 0.30 = 0.45, budget 0.08 + 0.50 = 0.58.
    expect(served(await payments.createPayment(scope, payment(500n, "USD")))).toEqual(["sandbox", [45n]]);
    // INR 1000.00: sandbox 2.9 % = 29.00, budget 3.5 % = 35.00.
    expect(served(await payments.createPayment(scope, payment(100_000n, "INR")))).toEqual(["sandbox", [2900n]]);
  });

  it("lets the tenant's own fees override the published ones", async () => {
    await route({
      strategy: RoutingStrategy.CHEAPEST,
      targets: bothTargets(),
      fees: [create(FeeSchema, { provider: "sandbox", currency: "INR", percentageBps: 400 })],
    });
    expect(served(await payments.createPayment(scope, payment(100_000n, "INR")))).toEqual(["budget", [3500n]]);
  });

  it("applies the first matching rule", async () => {
    await route({
      strategy: RoutingStrategy.PRIORITY,
      targets: bothTargets(),
      rules: [
        { name: "rupees", condition: { currencies: ["INR"] }, targets: [{ providerAccountId: accountIds.budget! }] },
        { name: "large", condition: { minAmount: 1_000_000n }, strategy: RoutingStrategy.CHEAPEST },
      ],
    });
    expect((await payments.createPayment(scope, payment(100n, "INR"))).provider).toBe("budget");
    expect((await payments.createPayment(scope, payment(100n, "USD"))).provider).toBe("sandbox");
    expect((await payments.createPayment(scope, payment(2_000_000n, "USD"))).provider).toBe("budget");
  });

  it("prefers the account with the better success rate over the profile's window", async () => {
    // Declines at the sandbox account bring its rate down.
    await route({ strategy: RoutingStrategy.PRIORITY, targets: bothTargets() });
    for (let i = 0; i < 3; i++) {
      const declined = await payments.createPayment(scope, payment(100n, "EUR", "tok_sandbox_decline"));
      expect(declined.attempts.map((a) => a.status)).toEqual([AttemptStatus.DECLINED]);
    }
    // Without exploration the choice is the best account every time.
    const learning = { explorationShare: 0 };
    await route({ strategy: RoutingStrategy.SUCCESS_RATE, targets: bothTargets(), learning });
    const chosen = await payments.createPayment(scope, payment(100n, "EUR"));
    expect(chosen.provider).toBe("budget");
    // The attempt keeps why routing chose its account.
    expect(chosen.attempts[0]!.routingReason).toMatch(/^chosen: best score 0\.\d\d × fee /);
    // Outside the window the declines no longer count, and the targets' order decides the tie.
    await route({ strategy: RoutingStrategy.SUCCESS_RATE, targets: bothTargets(), successRateWindow: { nanos: 1_000_000 }, learning });
    await new Promise((r) => setTimeout(r, 5));
    expect((await payments.createPayment(scope, payment(100n, "EUR"))).provider).toBe("sandbox");
  });
});
