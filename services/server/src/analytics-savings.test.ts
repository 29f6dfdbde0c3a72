import { afterAll, beforeAll, expect, it } from "vitest";
import { AnalyticsService } from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";
import { RoutingService, RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { Category, Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { PaymentService, PaymentStatus } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { createTenant } from "@onerouter/admin";
import { stripeEmulator } from "@onerouter/emulators/stripe";
import { startEmulator, type RunningEmulator } from "@onerouter/sandbox";
import { describeEachEngine } from "@onerouter/core/testing";
import { apiClient, startTestOneRouter, type TestOneRouter } from "../test/index";

// What routing saved, measured on real payments: the same workload through
// a tenant that routes to the cheapest provider and through one that sends
// everything to the most expensive, both with Stripe (its emulator, through
// the real SDK) and the sandbox eligible, at fees the test sets.

const stripeFee = { percentageBps: 290, fixedMicros: 300_000n };
const sandboxFee = { percentageBps: 150, fixedMicros: 100_000n };
const exponents: Record<string, number> = { USD: 2, EUR: 2, JPY: 0 };
const workload: { amount: bigint; currency: string }[] = [
  { amount: 1000n, currency: "USD" },
  { amount: 2500n, currency: "USD" },
  { amount: 9999n, currency: "USD" },
  { amount: 12345n, currency: "USD" },
  { amount: 1n, currency: "USD" },
  { amount: 7000n, currency: "EUR" },
  { amount: 333n, currency: "EUR" },
  { amount: 4321n, currency: "JPY" },
];
const tokens = { stripe: "pm_card_visa", sandbox: "tok_sandbox_success" };

// A fee in minor units, rounded half up: bps of the amount plus the fixed part.
function feeOf(fee: { percentageBps: number; fixedMicros: bigint }, amount: bigint, currency: string): bigint {
  const exponent = 10n ** BigInt(exponents[currency]!);
  // In millionths of a minor unit: amount × bps / 10,000 and fixed micros of the major unit.
  const millionths = amount * BigInt(fee.percentageBps) * 100n + fee.fixedMicros * exponent;
  const whole = millionths / 1_000_000n;
  return millionths % 1_000_000n >= 500_000n ? whole + 1n : whole;
}

const micros = (minor: bigint, currency: string) => minor * 10n ** BigInt(6 - exponents[currency]!);

describeEachEngine("savings", (engine) => {
  let app: TestOneRouter;
  let stripe: RunningEmulator;

  beforeAll(async () => {
    app = await startTestOneRouter({ engine });
    stripe = await startEmulator(stripeEmulator({ secretKey: "sk_test_savings", webhookSecret: "whsec_savings" }));
    app.providerOutbound.allowBaseUrls(stripe.url);
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await stripe?.close();
  });

  // A tenant with a Stripe and a sandbox account, routing as told, after the workload.
  async function tenantAfterWorkload(name: string, routing: { strategy: RoutingStrategy; targets: ("stripe" | "sandbox")[] }) {
    const tenant = await createTenant(app.db.knex, { name, planId: "enterprise" });
    const key = await app.createKey(Environment.TEST, tenant.id);
    await app.ensureSandboxDefaults(tenant.id);
    const accountIds = {
      sandbox: (await app.accounts.query({ tenantId: tenant.id, environment: "test" }).where({ category: "payments", provider: "sandbox" }).first()).id as string,
      stripe: (
        await app.accounts.create({
          tenantId: tenant.id,
          environment: "test",
          provider: "stripe",
          category: "payments",
          displayName: "Stripe",
          credentials: { secret_key: "sk_test_savings", webhook_secret: "whsec_savings" },
          settings: { base_url: stripe.url },
          enabled: true,
        })
      ).id,
    };
    await apiClient(app, RoutingService, key.secret).updateRoutingProfile({
      routingProfile: {
        category: Category.PAYMENTS,
        strategy: routing.strategy,
        targets: routing.targets.map((provider) => ({ providerAccountId: accountIds[provider] })),
        fees: [
          { provider: "stripe", ...stripeFee },
          { provider: "sandbox", ...sandboxFee },
        ],
      },
    });
    const payments = apiClient(app, PaymentService, key.secret);
    const served: string[] = [];
    for (const { amount, currency } of workload) {
      const { payment } = await payments.createPayment({ amount, currency, paymentMethod: { providerTokens: tokens } });
      expect(payment?.status).toBe(PaymentStatus.SUCCEEDED);
      served.push(payment!.provider);
    }
    const costs = await apiClient(app, AnalyticsService, key.secret).getCosts({});
    return { served, costs };
  }

  it("shows what routing to the cheapest saved against the most expensive and the default provider, to the minor unit", async () => {
    const cheapest = await tenantAfterWorkload("Cheapest", { strategy: RoutingStrategy.CHEAPEST, targets: ["stripe", "sandbox"] });
    const oneProvider = await tenantAfterWorkload("Stripe only", { strategy: RoutingStrategy.PRIORITY, targets: ["stripe"] });
    expect(cheapest.served.every((p) => p === "sandbox")).toBe(true);
    expect(oneProvider.served.every((p) => p === "stripe")).toBe(true);

    for (const currency of ["USD", "EUR", "JPY"]) {
      const payments = workload.filter((w) => w.currency === currency);
      const atStripe = payments.reduce((sum, w) => sum + feeOf(stripeFee, w.amount, currency), 0n);
      const atSandbox = payments.reduce((sum, w) => sum + feeOf(sandboxFee, w.amount, currency), 0n);
      const savingsOf = (costs: typeof cheapest.costs) => costs.savings.find((s) => s.category === Category.PAYMENTS && s.currency === currency);

      // Routed cheapest: paid the sandbox's fees; Stripe is both the most expensive and the default (first target).
      expect(savingsOf(cheapest.costs)).toMatchObject({
        count: BigInt(payments.length),
        paidMicros: micros(atSandbox, currency),
        highestMicros: micros(atStripe, currency),
        defaultMicros: micros(atStripe, currency),
        savedVsHighestMicros: micros(atStripe - atSandbox, currency),
        savedVsDefaultMicros: micros(atStripe - atSandbox, currency),
      });
      // Through Stripe alone: paid Stripe's fees and saved nothing.
      expect(savingsOf(oneProvider.costs)).toMatchObject({
        paidMicros: micros(atStripe, currency),
        savedVsHighestMicros: 0n,
        savedVsDefaultMicros: 0n,
      });
      // What the cheapest routing saved is what the same workload cost more through one provider.
      expect(savingsOf(cheapest.costs)!.savedVsHighestMicros).toBe(savingsOf(oneProvider.costs)!.paidMicros - savingsOf(cheapest.costs)!.paidMicros);
      expect(cheapest.costs.lines.find((l) => l.currency === currency)).toMatchObject({ provider: "sandbox", costMicros: micros(atSandbox, currency) });
      // This month's costs so far, and a projection no lower.
      const projection = cheapest.costs.projections.find((p) => p.category === Category.PAYMENTS && p.currency === currency)!;
      expect(projection.monthToDateMicros).toBe(micros(atSandbox, currency));
      expect(projection.projectedMicros).toBeGreaterThanOrEqual(projection.monthToDateMicros);
    }
    const day = cheapest.costs.dailySavings.filter((d) => d.savings!.currency === "USD");
    expect(day).toHaveLength(1);
    expect(day[0]!.savings!.savedVsHighestMicros).toBe(cheapest.costs.savings.find((s) => s.currency === "USD")!.savedVsHighestMicros);
  }, 120_000);
});
