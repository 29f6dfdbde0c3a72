import { create } from "@bufbuild/protobuf";
import { type Fee, type RoutingProfile } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { ProviderErrorSchema, type ProviderError } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { copyWith, spanFailed, timeProviderCall, tracer, type Logger } from "@onerouter/core";
import { context, createContextKey, SpanKind } from "@opentelemetry/api";
import type { CircuitBreakers } from "./circuit-breaker";
import type { ConnectorContext } from "./connector-kit";
import type { CategoryConnectors, RegisteredConnector } from "./connector-registry";
import type { EnvironmentName, ProviderAccountStore, ProviderAccountWithCredentials } from "./provider-accounts";
import type { ProviderCallOutcome } from "./provider-call-metrics";
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
  private readonly named = new Map<string, C>();
  // The connector method the current call took (see naming).
  private operation = "unknown";

  constructor(private readonly options: RoutedCallsOptions<C>) {
    this.priced = new Set(options.connectors.pricedProviders());
  }

  // The usable accounts in the routing profile's order, with the profile.
  async candidates(
    target: RouteTarget<C>,
  ): Promise<{ profile: RoutingProfile | undefined; candidates: Candidate<Account>[]; alternatives: FeeAlternatives }> {
    const { connectors } = this.options;
    const scope = copyWith(target.scope, { category: connectors.category });
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
      candidates: orderCandidates(
        decision,
        copyWith(pricing, {
          accounts: usable,
          successRates,
          learning: learningOf(profile?.learning),
          ...(this.options.random && { random: this.options.random }),
        }),
      ),
      alternatives: feeAlternatives(profile, copyWith(pricing, { accounts: eligible })),
    };
  }

  // Tries the candidates in turn until one's settled attempt says stop.
  async route<Attempt extends { id: string }, Result>(candidates: readonly Candidate<Account>[], hooks: RouteHooks<Attempt, Result>): Promise<void> {
    const { breakers, connectors } = this.options;
    let decline: ProviderError | undefined;
    let tried = 0;
    // The provider the last attempt went to, once it said to try the next.
    let movedOnFrom: string | undefined;
    for (const { account, estimatedFee, reason } of candidates) {
      if (hooks.skips?.(account)) continue;
      const admission = breakers.admit(account.id, account.provider);
      if (admission === "probe") this.probeHealth(account);
      if (admission !== "call") continue;
      tried += 1;
      const attempt = await hooks.start(account, estimatedFee, reason);
      // Another request carries the object on (a retry resuming it, the resolver).
      if (!attempt) return;
      if (movedOnFrom !== undefined) connectors.metrics?.failover(connectors.category, movedOnFrom, account.provider);
      const started = performance.now();
      // The provider calls made for the attempt name it in their spans.
      const outcome = await context.with(context.active().setValue(attemptIdKey, attempt.id), () => hooks.call(account, attempt));
      const step = await hooks.settle(account, attempt, outcome, Math.round(performance.now() - started));
      if (step.kind !== "next") return;
      decline = step.decline ?? decline;
      movedOnFrom = account.provider;
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
  // circuit breaker learns what the call says of its health. The call is
  // timed (onerouter_provider_call_duration_seconds) and is a client span
  // named after the connector operation, with provider, account and attempt.
  async call<Result>(account: Account, call: (connector: C, ctx: ConnectorContext) => Promise<Result>): Promise<CallOutcome<Result>> {
    const { connectors } = this.options;
    const ctx = connectors.context(account);
    const attemptId = context.active().getValue(attemptIdKey) as string | undefined;
    const span = tracer.startSpan(`${account.provider} call`, {
      kind: SpanKind.CLIENT,
      attributes: {
        "onerouter.category": connectors.category,
        "onerouter.provider": account.provider,
        "onerouter.provider_account_id": account.id,
        ...(attemptId !== undefined && { "onerouter.attempt_id": attemptId }),
      },
    });
    const started = performance.now();
    let operation = "unknown";
    let outcome: CallOutcome<Result>;
    try {
      this.operation = "unknown";
      const answer = timeProviderCall(() => call(this.naming(account.provider), ctx));
      // The connector method was called synchronously, before any await.
      operation = this.operation;
      outcome = { kind: "answered", result: await answer };
    } catch (err) {
      outcome = classifyCallFailure(account.provider, err, this.options.logger);
    }
    const seconds = (performance.now() - started) / 1000;
    const result = callOutcome(outcome);
    connectors.metrics?.call(account.provider, account.id, operation, result, seconds);
    span.updateName(`${account.provider} ${operation}`);
    span.setAttribute("onerouter.operation", operation);
    span.setAttribute("onerouter.outcome", result);
    if (outcome.kind !== "answered") spanFailed(span, outcome.error.reason);
    span.end();
    recordCallHealth(this.options.breakers, account, outcome.kind);
    return outcome;
  }

  // The provider's connector as calls get it: it notes the name of each
  // method taken from it in `operation`, so metrics and spans say which
  // operation a call was without every engine naming it.
  private naming(provider: string): C {
    let named = this.named.get(provider);
    if (!named) {
      named = new Proxy(this.options.connectors.require(provider), {
        get: (target, key, receiver) => {
          const value: unknown = Reflect.get(target, key, receiver);
          if (typeof value === "function" && typeof key === "string") this.operation = key;
          return value;
        },
      });
      this.named.set(provider, named);
    }
    return named;
  }
}

// Set while an attempt's provider calls run.
const attemptIdKey = createContextKey("onerouter.attempt_id");

function callOutcome(outcome: CallOutcome<unknown>): ProviderCallOutcome {
  switch (outcome.kind) {
    case "answered": {
      const { result } = outcome;
      return typeof result === "object" && result !== null && "failure" in result && result.failure ? "declined" : "success";
    }
    case "unknown":
      return "unknown";
    default:
      return "failed";
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
