import { clone, create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  GetRoutingProfileResponseSchema,
  ListDefaultFeesResponseSchema,
  ListPriceHistoryResponseSchema,
  RoutingProfileSchema,
  RoutingService,
  RoutingStrategy,
  UpdateRoutingProfileResponseSchema,
  type LearningOptions,
  type RoutingCondition,
  type RoutingProfile,
  type RoutingTarget,
} from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { environmentName, invalidArgument, isCurrencyCode, remoteAddressKey, requireCaller, type Knex } from "@onerouter/core";
import { maxSuccessRateWindowMs, type ConnectorRegistry, type PublishedPrices, type EnvironmentName, type ProviderAccountStore, type ProviderCategory, type ProviderDescriptor, type RoutingProfileStore } from "@onerouter/routing";
import { recordAudit } from "./audit";
import { requireCategory } from "./categories";

export interface RoutingServiceDeps {
  knex: Knex;
  accounts: ProviderAccountStore;
  routing: RoutingProfileStore;
  // The registered providers and the fees they publish.
  connectors: Pick<ConnectorRegistry, "providers" | "defaultFees">;
  // Prices providers publish through their APIs, as fetched.
  prices: Pick<PublishedPrices, "history">;
}

const countryPattern = /^[A-Z]{2}$/;
const strategies = `${RoutingStrategy[RoutingStrategy.PRIORITY]}, ${RoutingStrategy[RoutingStrategy.WEIGHTED]}, ${RoutingStrategy[RoutingStrategy.CHEAPEST]}, ${RoutingStrategy[RoutingStrategy.SUCCESS_RATE]} or ${RoutingStrategy[RoutingStrategy.CHEAPEST_RELIABLE]}`;

// A target named somewhere in the profile, checked against the stored
// accounts once the static checks pass.
interface TargetReference {
  field: string;
  providerAccountId: string;
}

export function routingService(deps: RoutingServiceDeps): ServiceImpl<typeof RoutingService> {
  const { knex, accounts, routing, connectors } = deps;

  // Without a stored profile, traffic goes to the enabled accounts in the
  // order they were added.
  async function defaultProfile(scope: { tenantId: string; environment: EnvironmentName }, category: ProviderCategory) {
    const rows = (await accounts
      .query(scope)
      .where({ category, enabled: true })
      .orderBy([{ column: "created_at" }, { column: "id" }])
      .select("id")) as { id: string }[];
    return create(RoutingProfileSchema, {
      strategy: RoutingStrategy.PRIORITY,
      targets: rows.map((row) => ({ providerAccountId: row.id })),
    });
  }

  return {
    async getRoutingProfile(req, ctx) {
      const caller = requireCaller(ctx);
      const category = requireCategory(req.category, "category");
      const scope = { tenantId: caller.tenantId, environment: environmentName(caller.environment) };
      const profile = (await routing.get({ ...scope, category })) ?? (await defaultProfile(scope, category));
      profile.category = req.category;
      profile.environment = caller.environment;
      return create(GetRoutingProfileResponseSchema, { routingProfile: profile });
    },

    async updateRoutingProfile(req, ctx) {
      const caller = requireCaller(ctx);
      const requested = req.routingProfile;
      if (!requested) throw invalidArgument("routing_profile", "is required");
      const category = requireCategory(requested.category, "routing_profile.category");
      if (requested.environment !== Environment.UNSPECIFIED && requested.environment !== caller.environment) {
        throw invalidArgument("routing_profile.environment", "must be unset or the environment of the calling key");
      }
      const references = validateProfile(requested, category, connectors.providers());
      const profile = clone(RoutingProfileSchema, requested);
      profile.environment = caller.environment;
      const scope = { tenantId: caller.tenantId, environment: environmentName(caller.environment) };

      const saved = await knex.transaction(async (trx) => {
        // Shared locks keep the accounts from being deleted until this
        // profile, which references them, is committed.
        const ids = [...new Set(references.map((r) => r.providerAccountId))];
        const rows = (await accounts.query(scope).transacting(trx).whereIn("id", ids).forShare()) as unknown[];
        const found = new Map(rows.map((row) => accounts.fromRow(row)).map((a) => [a.id, a]));
        for (const ref of references) {
          const account = found.get(ref.providerAccountId);
          if (!account) {
            throw invalidArgument(ref.field, `provider account ${ref.providerAccountId} does not exist in this environment`);
          }
          if (account.category !== category) {
            throw invalidArgument(ref.field, `provider account ${ref.providerAccountId} is a ${account.category} account, not ${category}`);
          }
        }
        const stored = await routing.put({ ...scope, category }, profile, trx);
        await recordAudit(trx, {
          tenantId: caller.tenantId,
          environment: caller.environment,
          actor: caller.actor,
          ipAddress: ctx.values.get(remoteAddressKey),
          action: "routing_profile.update",
          resourceType: "routing_profile",
          resourceId: category,
          metadata: {
            strategy: RoutingStrategy[profile.strategy] ?? String(profile.strategy),
            targets: String(profile.targets.length),
            rules: String(profile.rules.length),
            fees: String(profile.fees.length),
          },
        });
        return stored;
      });
      return create(UpdateRoutingProfileResponseSchema, { routingProfile: saved });
    },

    async listDefaultFees(req, ctx) {
      requireCaller(ctx);
      return create(ListDefaultFeesResponseSchema, { fees: connectors.defaultFees(requireCategory(req.category, "category")) });
    },

    async listPriceHistory(req, ctx) {
      const caller = requireCaller(ctx);
      if (req.country !== "" && !countryPattern.test(req.country)) {
        throw invalidArgument("country", `"${req.country}" is not an upper-case ISO 3166-1 alpha-2 code such as US`);
      }
      const scope = { tenantId: caller.tenantId, environment: environmentName(caller.environment) };
      // Another tenant's account simply has no prices here.
      const { items, nextPageToken } = await deps.prices.history(
        scope,
        { providerAccountId: req.providerAccountId, country: req.country },
        req,
      );
      return create(ListPriceHistoryResponseSchema, { priceChanges: items, nextPageToken });
    },
  };
}

// Everything that can be checked without the database; returns the targets
// to look up, in the order they appear.
function validateProfile(
  profile: RoutingProfile,
  category: ProviderCategory,
  providers: readonly ProviderDescriptor[],
): TargetReference[] {
  const references: TargetReference[] = [];
  validateStrategy("routing_profile.strategy", profile.strategy);
  validateTargets("routing_profile.targets", profile.strategy, profile.targets, references);

  const ruleNames = new Set<string>();
  profile.rules.forEach((rule, i) => {
    const at = `routing_profile.rules[${i}]`;
    const name = rule.name.trim();
    if (name === "" || name.length > 100) throw invalidArgument(`${at}.name`, "must be 1 to 100 characters");
    if (ruleNames.has(name)) throw invalidArgument(`${at}.name`, `"${name}" is the name of an earlier rule`);
    ruleNames.add(name);
    if (rule.condition) validateCondition(`${at}.condition`, rule.condition);
    validateStrategy(`${at}.strategy`, rule.strategy);
    validateTargets(`${at}.targets`, rule.strategy, rule.targets, references);
  });

  const known = providers.filter((p) => p.category === category).map((p) => p.name);
  profile.fees.forEach((fee, i) => {
    const at = `routing_profile.fees[${i}]`;
    if (!known.includes(fee.provider)) {
      throw invalidArgument(`${at}.provider`, `"${fee.provider}" is not a registered ${category} provider; known: ${known.join(", ")}`);
    }
    if (fee.currency !== "" && !isCurrencyCode(fee.currency)) {
      throw invalidArgument(`${at}.currency`, `"${fee.currency}" is not an upper-case ISO 4217 code such as USD (or empty for all)`);
    }
    if (fee.country !== "" && !countryPattern.test(fee.country)) {
      throw invalidArgument(`${at}.country`, `"${fee.country}" is not an upper-case ISO 3166-1 alpha-2 code such as US (or empty for all)`);
    }
    if (fee.percentageBps < 0 || fee.percentageBps > 10_000) {
      throw invalidArgument(`${at}.percentage_bps`, "must be between 0 and 10000 basis points");
    }
    if (fee.fixedMicros < 0n) throw invalidArgument(`${at}.fixed_micros`, "must not be negative");
  });

  if (profile.learning) validateLearning("routing_profile.learning", profile.learning);

  const window = profile.successRateWindow;
  if (window) {
    const ms = Number(window.seconds) * 1000 + window.nanos / 1e6;
    // Zero keeps the documented one-hour default.
    if (ms !== 0 && (ms < 60_000 || ms > maxSuccessRateWindowMs || Math.abs(window.nanos) > 999_999_999)) {
      throw invalidArgument("routing_profile.success_rate_window", "must be from one minute to 30 days, or zero for one hour");
    }
  }
  return references;
}

function validateLearning(field: string, learning: LearningOptions) {
  const share = learning.explorationShare;
  if (share !== undefined && !(share >= 0 && share <= 0.5)) throw invalidArgument(`${field}.exploration_share`, "must be between 0 and 0.5");
  const gap = learning.eliminationGapPoints;
  if (gap !== undefined && !(gap > 0 && gap <= 100)) throw invalidArgument(`${field}.elimination_gap_points`, "must be more than 0 and at most 100");
  const min = learning.eliminationMinAttempts;
  if (min !== undefined && min < 1) throw invalidArgument(`${field}.elimination_min_attempts`, "must be at least 1");
  const tolerance = learning.successRateTolerancePoints;
  if (tolerance !== undefined && !(tolerance >= 0 && tolerance <= 100)) {
    throw invalidArgument(`${field}.success_rate_tolerance_points`, "must be between 0 and 100");
  }
}

function validateStrategy(field: string, strategy: RoutingStrategy) {
  if (strategy === RoutingStrategy.UNSPECIFIED || RoutingStrategy[strategy] === undefined) {
    throw invalidArgument(field, `must be ${strategies}`);
  }
}

function validateTargets(field: string, strategy: RoutingStrategy, targets: RoutingTarget[], references: TargetReference[]) {
  if (targets.length === 0) throw invalidArgument(field, "must name at least one provider account");
  const seen = new Set<string>();
  targets.forEach((target, i) => {
    const at = `${field}[${i}]`;
    const id = target.providerAccountId;
    if (id === "") throw invalidArgument(`${at}.provider_account_id`, "is required");
    if (seen.has(id)) throw invalidArgument(`${at}.provider_account_id`, `${id} is already an earlier target`);
    seen.add(id);
    if (target.weight < 0) throw invalidArgument(`${at}.weight`, "must not be negative");
    if (strategy === RoutingStrategy.WEIGHTED && target.weight === 0) {
      throw invalidArgument(`${at}.weight`, "must be positive for ROUTING_STRATEGY_WEIGHTED");
    }
    references.push({ field: `${at}.provider_account_id`, providerAccountId: id });
  });
}

function validateCondition(field: string, condition: RoutingCondition) {
  condition.currencies.forEach((currency, i) => {
    if (!isCurrencyCode(currency)) {
      throw invalidArgument(`${field}.currencies[${i}]`, `"${currency}" is not an upper-case ISO 4217 code such as USD`);
    }
  });
  condition.countries.forEach((country, i) => {
    if (!countryPattern.test(country)) {
      throw invalidArgument(`${field}.countries[${i}]`, `"${country}" is not an upper-case ISO 3166-1 alpha-2 code such as US`);
    }
  });
  if (condition.minAmount < 0n) throw invalidArgument(`${field}.min_amount`, "must not be negative");
  if (condition.maxAmount < 0n) throw invalidArgument(`${field}.max_amount`, "must not be negative");
  // Zero leaves a bound open.
  if (condition.minAmount > 0n && condition.maxAmount > 0n && condition.minAmount > condition.maxAmount) {
    throw invalidArgument(`${field}.min_amount`, "must not exceed max_amount");
  }
}
