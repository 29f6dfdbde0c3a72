import { randomBytes } from "node:crypto";
import { clone, create } from "@bufbuild/protobuf";
import { DurationSchema, durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { AuditLogService } from "@onerouter/client/gen/onerouter/admin/v1/audit_logs_pb";
import { ProviderAccountService } from "@onerouter/client/gen/onerouter/admin/v1/provider_accounts_pb";
import {
  FeeSchema,
  LearningOptionsSchema,
  RoutingProfileSchema,
  RoutingService,
  RoutingStrategy,
  type Fee,
  type RoutingProfile,
} from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { Category, Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { MasterKeyring, newDataKey, outboxMigrations, type Database } from "@onerouter/core";
import { CircuitBreakers, ConnectorRegistry, ProviderAccountStore, ProviderOutbound, RoutingProfileStore, routingMigrations, ProviderHealthStore, PublishedPrices } from "@onerouter/routing";
import { createTestDatabase, describeEachEngine } from "@onerouter/core/testing";
import { inMemoryApi } from "@onerouter/gatekeeper/testing";
import { gatekeeperMigrations } from "@onerouter/gatekeeper";
import { sandboxConnector } from "@onerouter/payments";
import { failure } from "@onerouter/gatekeeper/testing";
import { createApiKey } from "./api-keys";
import { adminMigrations } from "./migrations";
import { adminRoutes } from "./routes";
import { createTenant } from "./tenants";

// The admin room in memory on a real database, behind the API-key gatekeeper,
// with a published fee table of the test's own so ListDefaultFees can be
// checked against it.
const publishedFees: Fee[] = [
  create(FeeSchema, { provider: "sandbox", percentageBps: 290, fixedMicros: 300_000n }),
  create(FeeSchema, { provider: "sandbox", currency: "EUR", country: "DE", percentageBps: 140, fixedMicros: 250_000n }),
];

describeEachEngine("RoutingService", (engine) => {
  let db: Database;
  let api: ReturnType<typeof inMemoryApi>;
  let accounts: ProviderAccountStore;
  let tenantId: string;
  const keys: Partial<Record<"test" | "live" | "otherTenant", string>> = {};

  beforeAll(async () => {
    db = await createTestDatabase(engine);
    await db.migrate([...adminMigrations, ...outboxMigrations, ...routingMigrations, ...gatekeeperMigrations]);
    accounts = new ProviderAccountStore(db.knex, new MasterKeyring(newDataKey()));
    const outbound = new ProviderOutbound({ baseUrls: [], allowedCidrs: [] });
    const connectors = new ConnectorRegistry({ outbound, providerTimeoutMs: 10_000 });
    connectors.register("payments", [{ connector: sandboxConnector, defaultFees: publishedFees }]);
    api = inMemoryApi(
      db.knex,
      adminRoutes({
        knex: db.knex,
        accounts,
        routing: new RoutingProfileStore(db.knex),
        connectors,
        publicBaseUrl: () => "https://onerouter.example.com",
        breakers: new CircuitBreakers({ failureThreshold: 5, cooldownMs: 30_000 }),
        health: new ProviderHealthStore(db.knex),
        prices: new PublishedPrices(db.knex),
        outbound,
      }),
    );
    tenantId = (await createTenant(db.knex, { name: "Routing", planId: "enterprise" })).id;
    const otherTenantId = (await createTenant(db.knex, { name: "Other", planId: "enterprise" })).id;
    const key = async (environment: Environment, tenant: string) =>
      (await createApiKey(db.knex, { tenantId: tenant, environment, name: "test", createdBy: "test" })).secret;
    keys.test = await key(Environment.TEST, tenantId);
    keys.live = await key(Environment.LIVE, tenantId);
    keys.otherTenant = await key(Environment.TEST, otherTenantId);
  });
  afterAll(async () => {
    await db?.close();
  });

  const routingFor = (secret = keys.test!) => api.client(RoutingService, secret);
  const accountsFor = (secret = keys.test!) => api.client(ProviderAccountService, secret);

  async function sandboxAccount(options: { secret?: string; enabled?: boolean } = {}) {
    const { providerAccount } = await accountsFor(options.secret).createProviderAccount({
      provider: "sandbox",
      credentials: { api_key: `sk_sandbox_${randomBytes(16).toString("hex")}` },
      enabled: options.enabled,
    });
    return providerAccount!.id;
  }

  // Created first, so the default profile's order can be checked exactly.
  let first: string;
  let disabled: string;
  let second: string;

  it("defaults to the enabled accounts of the category, in the order they were added", async () => {
    const empty = await routingFor().getRoutingProfile({ category: Category.PAYMENTS });
    expect(empty.routingProfile).toMatchObject({
      category: Category.PAYMENTS,
      environment: Environment.TEST,
      strategy: RoutingStrategy.PRIORITY,
      targets: [],
      rules: [],
    });

    first = await sandboxAccount();
    disabled = await sandboxAccount({ enabled: false });
    second = await sandboxAccount();
    const { routingProfile } = await routingFor().getRoutingProfile({ category: Category.PAYMENTS });
    expect(routingProfile?.targets.map((t) => t.providerAccountId)).toEqual([first, second]);
    expect(routingProfile?.strategy).toBe(RoutingStrategy.PRIORITY);

    const messaging = await routingFor().getRoutingProfile({ category: Category.MESSAGING });
    expect(messaging.routingProfile).toMatchObject({ category: Category.MESSAGING, targets: [] });
    expect(await failure(routingFor().getRoutingProfile({}))).toMatchObject({
      code: Code.InvalidArgument,
      field: "category",
    });
  });

  function validProfile(): RoutingProfile {
    return create(RoutingProfileSchema, {
      category: Category.PAYMENTS,
      strategy: RoutingStrategy.WEIGHTED,
      targets: [
        { providerAccountId: second, weight: 70 },
        { providerAccountId: first, weight: 30 },
      ],
      rules: [
        {
          name: "large euro payments in Germany",
          condition: { currencies: ["EUR"], countries: ["DE", "AT"], minAmount: 10_000n, maxAmount: 5_000_000n },
          strategy: RoutingStrategy.CHEAPEST,
          targets: [{ providerAccountId: first }, { providerAccountId: disabled }],
        },
        {
          name: "small amounts",
          condition: { maxAmount: 500n },
          strategy: RoutingStrategy.SUCCESS_RATE,
          targets: [{ providerAccountId: second }],
        },
      ],
      failoverOnDecline: true,
      fees: [{ provider: "sandbox", currency: "EUR", country: "DE", percentageBps: 120, fixedMicros: 200_000n }],
      successRateWindow: durationFromMs(15 * 60_000),
    });
  }

  it("stores a profile and returns it unchanged, for the caller's environment only", async () => {
    const requested = validProfile();
    const { routingProfile: updated } = await routingFor().updateRoutingProfile({ routingProfile: requested });
    const expected = clone(RoutingProfileSchema, requested);
    expected.environment = Environment.TEST;
    expect(updated).toEqual(expected);
    expect((await routingFor().getRoutingProfile({ category: Category.PAYMENTS })).routingProfile).toEqual(expected);

    // Replaced as a whole by the next update.
    const simpler = create(RoutingProfileSchema, {
      category: Category.PAYMENTS,
      environment: Environment.TEST,
      strategy: RoutingStrategy.PRIORITY,
      targets: [{ providerAccountId: first }],
    });
    await routingFor().updateRoutingProfile({ routingProfile: simpler });
    expect((await routingFor().getRoutingProfile({ category: Category.PAYMENTS })).routingProfile).toEqual(simpler);

    // The live environment keeps its own (default) profile.
    const live = await routingFor(keys.live).getRoutingProfile({ category: Category.PAYMENTS });
    expect(live.routingProfile).toMatchObject({ environment: Environment.LIVE, strategy: RoutingStrategy.PRIORITY, targets: [] });

    const audit = await api.client(AuditLogService, keys.test!).listAuditLogEntries({
      action: "routing_profile.update",
    });
    expect(audit.entries).toHaveLength(2);
    expect(audit.entries[0]).toMatchObject({ resourceType: "routing_profile", resourceId: "payments" });
  });

  it("names the field of every invalid part of a profile, and keeps the stored one", async () => {
    const stored = (await routingFor().getRoutingProfile({ category: Category.PAYMENTS })).routingProfile;
    const messagingAccount = (
      await accounts.create({
        tenantId,
        environment: "test",
        provider: "sms",
        category: "messaging",
        displayName: "sms",
        credentials: { token: "secret-token" },
        settings: {},
        enabled: true,
      })
    ).id;
    const otherTenantAccount = await sandboxAccount({ secret: keys.otherTenant });
    const liveAccount = await sandboxAccount({ secret: keys.live });

    const cases: [string, (p: RoutingProfile) => void][] = [
      ["routing_profile.category", (p) => (p.category = Category.UNSPECIFIED)],
      ["routing_profile.environment", (p) => (p.environment = Environment.LIVE)],
      ["routing_profile.strategy", (p) => (p.strategy = RoutingStrategy.UNSPECIFIED)],
      ["routing_profile.strategy", (p) => (p.strategy = 42 as RoutingStrategy)],
      ["routing_profile.targets", (p) => (p.targets = [])],
      ["routing_profile.targets[1].provider_account_id", (p) => (p.targets[1]!.providerAccountId = "")],
      ["routing_profile.targets[1].provider_account_id", (p) => (p.targets[1]!.providerAccountId = "pa_missing")],
      ["routing_profile.targets[1].provider_account_id", (p) => (p.targets[1]!.providerAccountId = messagingAccount)],
      ["routing_profile.targets[1].provider_account_id", (p) => (p.targets[1]!.providerAccountId = otherTenantAccount)],
      ["routing_profile.targets[1].provider_account_id", (p) => (p.targets[1]!.providerAccountId = liveAccount)],
      ["routing_profile.targets[1].provider_account_id", (p) => (p.targets[1]!.providerAccountId = second)],
      ["routing_profile.targets[0].weight", (p) => (p.targets[0]!.weight = 0)],
      ["routing_profile.targets[1].weight", (p) => (p.targets[1]!.weight = -5)],
      ["routing_profile.rules[0].name", (p) => (p.rules[0]!.name = " ")],
      ["routing_profile.rules[1].name", (p) => (p.rules[1]!.name = p.rules[0]!.name)],
      ["routing_profile.rules[0].condition.currencies[0]", (p) => (p.rules[0]!.condition!.currencies = ["eur"])],
      ["routing_profile.rules[0].condition.currencies[1]", (p) => (p.rules[0]!.condition!.currencies = ["EUR", "EURO"])],
      ["routing_profile.rules[0].condition.countries[1]", (p) => (p.rules[0]!.condition!.countries = ["DE", "DEU"])],
      ["routing_profile.rules[0].condition.countries[0]", (p) => (p.rules[0]!.condition!.countries = ["de"])],
      ["routing_profile.rules[0].condition.min_amount", (p) => (p.rules[0]!.condition!.minAmount = 6_000_000n)],
      ["routing_profile.rules[0].condition.min_amount", (p) => (p.rules[0]!.condition!.minAmount = -1n)],
      ["routing_profile.rules[0].condition.max_amount", (p) => (p.rules[0]!.condition!.maxAmount = -1n)],
      ["routing_profile.rules[1].strategy", (p) => (p.rules[1]!.strategy = RoutingStrategy.UNSPECIFIED)],
      ["routing_profile.rules[1].targets", (p) => (p.rules[1]!.targets = [])],
      ["routing_profile.rules[0].targets[1].provider_account_id", (p) => (p.rules[0]!.targets[1]!.providerAccountId = "pa_missing")],
      ["routing_profile.rules[0].targets[0].weight", (p) => (p.rules[0]!.strategy = RoutingStrategy.WEIGHTED)],
      ["routing_profile.fees[0].provider", (p) => (p.fees[0]!.provider = "acme")],
      ["routing_profile.fees[0].provider", (p) => (p.fees[0]!.provider = "")],
      ["routing_profile.fees[0].currency", (p) => (p.fees[0]!.currency = "eur")],
      ["routing_profile.fees[0].country", (p) => (p.fees[0]!.country = "GER")],
      ["routing_profile.fees[0].percentage_bps", (p) => (p.fees[0]!.percentageBps = 10_001)],
      ["routing_profile.fees[0].percentage_bps", (p) => (p.fees[0]!.percentageBps = -1)],
      ["routing_profile.fees[0].fixed_micros", (p) => (p.fees[0]!.fixedMicros = -1n)],
      ["routing_profile.success_rate_window", (p) => (p.successRateWindow = durationFromMs(30_000))],
      ["routing_profile.success_rate_window", (p) => (p.successRateWindow = durationFromMs(-60_000))],
      ["routing_profile.success_rate_window", (p) => (p.successRateWindow = durationFromMs(30 * 86_400_000 + 1))],
      // A window whose start no Date can hold.
      ["routing_profile.success_rate_window", (p) => (p.successRateWindow = create(DurationSchema, { seconds: 10n ** 15n }))],
      ["routing_profile.learning.exploration_share", (p) => (p.learning = create(LearningOptionsSchema, { explorationShare: 0.6 }))],
      ["routing_profile.learning.exploration_share", (p) => (p.learning = create(LearningOptionsSchema, { explorationShare: -0.1 }))],
      ["routing_profile.learning.elimination_gap_points", (p) => (p.learning = create(LearningOptionsSchema, { eliminationGapPoints: 0 }))],
      ["routing_profile.learning.elimination_min_attempts", (p) => (p.learning = create(LearningOptionsSchema, { eliminationMinAttempts: 0 }))],
      ["routing_profile.learning.success_rate_tolerance_points", (p) => (p.learning = create(LearningOptionsSchema, { successRateTolerancePoints: 101 }))],
    ];
    for (const [field, breakIt] of cases) {
      const profile = validProfile();
      breakIt(profile);
      expect(await failure(routingFor().updateRoutingProfile({ routingProfile: profile })), field).toMatchObject({
        code: Code.InvalidArgument,
        reason: "INVALID_FIELD",
        field,
      });
    }
    expect(await failure(routingFor().updateRoutingProfile({}))).toMatchObject({ field: "routing_profile" });
    // A messaging profile takes no payments provider's fees.
    const messaging = create(RoutingProfileSchema, {
      category: Category.MESSAGING,
      strategy: RoutingStrategy.PRIORITY,
      targets: [{ providerAccountId: messagingAccount }],
      fees: [{ provider: "sandbox" }],
    });
    expect(await failure(routingFor().updateRoutingProfile({ routingProfile: messaging }))).toMatchObject({
      field: "routing_profile.fees[0].provider",
    });

    expect((await routingFor().getRoutingProfile({ category: Category.PAYMENTS })).routingProfile).toEqual(stored);
  });

  it("accepts the edges of the valid ranges", async () => {
    const profile = validProfile();
    profile.rules[0]!.condition = undefined;
    profile.rules[1]!.condition!.minAmount = 500n;
    profile.fees = [
      create(FeeSchema, { provider: "sandbox", percentageBps: 10_000, fixedMicros: 0n }),
      create(FeeSchema, { provider: "sandbox", currency: "JPY", percentageBps: 0 }),
    ];
    profile.successRateWindow = durationFromMs(60_000);
    profile.strategy = RoutingStrategy.CHEAPEST_RELIABLE;
    profile.learning = create(LearningOptionsSchema, { explorationShare: 0.5, eliminationGapPoints: 100, eliminationMinAttempts: 1, successRateTolerancePoints: 0 });
    const { routingProfile } = await routingFor().updateRoutingProfile({ routingProfile: profile });
    expect(routingProfile?.fees).toHaveLength(2);
    expect(routingProfile?.learning).toEqual(profile.learning);
    profile.successRateWindow = durationFromMs(0);
    await routingFor().updateRoutingProfile({ routingProfile: profile });
    profile.successRateWindow = durationFromMs(30 * 86_400_000);
    await routingFor().updateRoutingProfile({ routingProfile: profile });
  });

  it("lists the published default fees of a category", async () => {
    expect((await routingFor().listDefaultFees({ category: Category.PAYMENTS })).fees).toEqual(publishedFees);
    expect((await routingFor().listDefaultFees({ category: Category.MESSAGING })).fees).toEqual([]);
    expect(await failure(routingFor().listDefaultFees({}))).toMatchObject({ code: Code.InvalidArgument, field: "category" });
  });
});
