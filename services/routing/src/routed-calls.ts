import { create } from "@bufbuild/protobuf";
import { type Fee, type RoutingProfile } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { ProviderErrorSchema, type ProviderError } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { timeProviderCall, type Logger } from "@onerouter/core";
import type { CircuitBreakers } from "./circuit-breaker";
import type { ConnectorContext } from "./connector-kit";
import type { CategoryConnectors, RegisteredConnector } from "./connector-registry";
import type { EnvironmentName, ProviderAccountStore, ProviderAccountWithCredentials } from "./provider-accounts";
import { classifyCallFailure, recordCallHealth, type FailedCall } from "./provider-calls";
import type { RoutingProfileStore } from "./routing-profiles";
import type { PublishedPrices } from "./published-prices";
import { decideRoute, feeAlternatives, learningOf, learnsFromOutcomes, orderCandidates, successRateWindowMs, type Candidate, type FeeAlternatives, type OutcomeCounts, type RoutingRequest } from "./select";

// The routed call both engines make: the candidates in the routing profile's
// order, then for each one whose circuit lets it through an attempt is
// started, the provider called under the outbound rules, the failure
// classified and the breaker told, and the outcome settled by the room,
// which says whether the next candidate may be tried. What is specific to a
// room (a payment's decline failover and sync, a message's channel and
// callbacks) comes in through its hooks.

// What one provider call told the engine ("not taken" means it provably was not).
export type CallOutcome<Result> = { kind: "answered"; result: Result } | FailedCall;

// After an attempt is settled: stop, or try the next candidate (after a
// decline the payment may fail over on, carrying that decline).
export type RouteStep = { kind: "done" } | { kind: "next"; decline?: ProviderError };

export interface RoutedCallsOptions<C extends RegisteredConnector> {
  accounts: ProviderAccountStore;
  profiles: RoutingProfileStore;
  breakers: CircuitBreakers;
  connectors: CategoryConnectors<C>;
  // Prices providers publish through their APIs, ahead of the registered defaults.
  publishedPrices?: PublishedPrices;
  // In [0, 1): exploration and WEIGHTED draws; Math.random unless given.
  random?: () => number;
  logger?: Logger;
}

type Account = ProviderAccountWithCredentials;

// What routing compares for one object to send.
export interface RouteTarget<C> {
  scope: { tenantId: string; environment: EnvironmentName };
  // Whether an account's connector can take the object at all.
  accepts(connector: C): boolean;
  request: RoutingRequest;
  // Accounts already tried for this object.
  exclude: ReadonlySet<string>;
  successRates(accountIds: readonly string[], since: Date): Promise<Map<string, OutcomeCounts>>;
  // What CHEAPEST compares when not the fee on `request.amount`.
  price?(provider: string, fees: readonly Fee[], defaultFees: readonly Fee[]): bigint | undefined;
}

export interface RouteHooks<Attempt, Result> {
  // An account this object may not go to even though routing picked it.
  skips?(account: Account): boolean;
  // Undefined when another request carries the object on.
  // `reason` says why routing put the account there, for the attempt.
  start(account: Account, estimatedFee: bigint | undefined, reason: string): Promise<Attempt | undefined>;
  call(account: Account, attempt: Attempt): Promise<CallOutcome<Result>>;
  settle(account: Account, attempt: Attempt, outcome: CallOutcome<Result>, latencyMs: number): Promise<RouteStep>;
  // No candidate took the object: `decline` is the last one failed over on.
  exhausted(result: { candidates: number; tried: number; decline?: ProviderError }): Promise<void>;
}

export class RoutedCalls<C extends RegisteredConnector> {
  // Providers whose prices come from their pricing APIs.
  private readonly priced: ReadonlySet<string>;

  constructor(private readonly options: RoutedCallsOptions<C>) {
    this.priced = new Set(options.connectors.pricedProviders());
  }

  // The usable accounts in the routing profile's order, with the profile.
  async candidates(
    target: RouteTarget<C>,
  ): Promise<{ profile: RoutingProfile | undefined; candidates: Candidate<Account>[]; alternatives: FeeAlternatives }> {
    const { connectors } = this.options;
    const scope = { ...target.scope, category: connectors.category };
    const [profile, accounts] = await Promise.all([this.options.profiles.get(scope), this.options.accounts.listWithCredentials(scope)]);
    const eligible = accounts.filter((a) => {
      const connector = connectors.get(a.provider);
      return connector !== undefined && target.accepts(connector);
    });
    const usable = eligible.filter((a) => !target.exclude.has(a.id));
    const decision = decideRoute(profile, target.request);
    const [successRates, publishedFees] = await Promise.all([
      learnsFromOutcomes(decision.strategy)
        ? target.successRates(
            usable.map((a) => a.id),
            new Date(Date.now() - successRateWindowMs(profile)),
          )
        : undefined,
      this.options.publishedPrices?.latestFees(
        usable.filter((a) => this.priced.has(a.provider)).map((a) => a.id),
        target.request.country,
      ),
    ]);
    const fees = profile?.fees ?? [];
    const { price } = target;
    const pricing = {
      request: target.request,
      fees,
      defaultFees: connectors.defaultFees,
      publishedFees,
      ...(price && { price: (provider: string, defaultFees: readonly Fee[]) => price(provider, fees, defaultFees) }),
    };
    return {
      profile,
      candidates: orderCandidates(decision, {
        ...pricing,
        accounts: usable,
        successRates,
        learning: learningOf(profile?.learning),
        ...(this.options.random && { random: this.options.random }),
      }),
      alternatives: feeAlternatives(profile, { ...pricing, accounts: eligible }),
    };
  }

  // Tries the candidates in turn until one's settled attempt says stop.
  async route<Attempt, Result>(candidates: readonly Candidate<Account>[], hooks: RouteHooks<Attempt, Result>): Promise<void> {
    const { breakers } = this.options;
    let decline: ProviderError | undefined;
    let tried = 0;
    for (const { account, estimatedFee, reason } of candidates) {
      if (hooks.skips?.(account)) continue;
      const admission = breakers.admit(account.id, account.provider);
      if (admission === "probe") this.probeHealth(account);
      if (admission !== "call") continue;
      tried += 1;
      const attempt = await hooks.start(account, estimatedFee, reason);
      // Another request carries the object on (a retry resuming it, the resolver).
      if (!attempt) return;
      const started = performance.now();
      const outcome = await hooks.call(account, attempt);
      const step = await hooks.settle(account, attempt, outcome, Math.round(performance.now() - started));
      if (step.kind !== "next") return;
      decline = step.decline ?? decline;
    }
    await hooks.exhausted({ candidates: candidates.length, tried, ...(decline && { decline }) });
  }

  // A half-open circuit's probe: the connector's health check, in the
  // background, so no customer's object is the one that finds out whether
  // the provider is back. `call` reports its outcome to the breaker.
  private probeHealth(account: Account): void {
    this.call(account, (connector, ctx) => connector.testCredentials(ctx)).catch((err: unknown) => {
      // The probe must end in a verdict, or the circuit would wait for it forever.
      this.options.breakers.recordFailure(account.id, account.provider);
      this.options.logger?.error({ err, providerAccountId: account.id }, "circuit probe failed unexpectedly");
    });
  }

  // One call with an account: a failure is classified, and the account's
  // circuit breaker learns what the call says of its health.
  async call<Result>(account: Account, call: (connector: C, ctx: ConnectorContext) => Promise<Result>): Promise<CallOutcome<Result>> {
    const { connectors } = this.options;
    const connector = connectors.require(account.provider);
    const ctx = connectors.context(account);
    let outcome: CallOutcome<Result>;
    try {
      outcome = { kind: "answered", result: await timeProviderCall(() => call(connector, ctx)) };
    } catch (err) {
      outcome = classifyCallFailure(account.provider, err, this.options.logger);
    }
    recordCallHealth(this.options.breakers, account, outcome.kind);
    return outcome;
  }
}

// Why an object no candidate took failed.
export function noProviderAvailable(message: string): ProviderError {
  return create(ProviderErrorSchema, { reason: "NO_PROVIDER_AVAILABLE", message });
}

// The message of a routing that ran out of candidates.
export function exhaustedMessage(what: string, { candidates, tried }: { candidates: number; tried: number }): string {
  return `no provider account could take the ${what} (${tried} tried, ${candidates - tried} skipped with an open circuit)`;
}
