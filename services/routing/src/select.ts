import { durationMs } from "@bufbuild/protobuf/wkt";
import {
  RoutingStrategy,
  type Fee,
  type RoutingCondition,
  type RoutingProfile,
  type RoutingTarget,
} from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { estimateFee } from "./fees";

// Provider selection for payments and messaging alike: a routing profile's
// first matching rule (or else its defaults) picks a strategy and targets,
// and the strategy orders the targets into the candidates to try in turn.

export interface RoutingRequest {
  // Minor units of `currency`.
  amount: bigint;
  currency: string;
  // ISO 3166-1 alpha-2; empty when unknown.
  country: string;
}

export interface RouteDecision {
  strategy: Exclude<RoutingStrategy, RoutingStrategy.UNSPECIFIED>;
  // Empty: every usable account, oldest first.
  targets: readonly RoutingTarget[];
  // The rule that decided; empty when the profile's defaults did.
  rule: string;
}

export interface OutcomeCounts {
  attempts: number;
  successes: number;
}

export interface Candidate<A> {
  account: A;
  // What the account would charge: minor units of the request's currency,
  // or what CandidateInput.price says; undefined when no fee is known.
  estimatedFee: bigint | undefined;
}

const defaultSuccessRateWindowMs = 3600_000;

export function successRateWindowMs(profile: RoutingProfile | undefined): number {
  const window = profile?.successRateWindow ? durationMs(profile.successRateWindow) : 0;
  return window > 0 ? window : defaultSuccessRateWindowMs;
}

export function conditionMatches(condition: RoutingCondition | undefined, request: RoutingRequest): boolean {
  if (!condition) return true;
  const upper = (codes: string[]) => codes.map((c) => c.toUpperCase());
  if (condition.currencies.length > 0 && !upper(condition.currencies).includes(request.currency)) return false;
  if (condition.countries.length > 0 && !upper(condition.countries).includes(request.country)) return false;
  if (condition.minAmount > 0n && request.amount < condition.minAmount) return false;
  if (condition.maxAmount > 0n && request.amount > condition.maxAmount) return false;
  return true;
}

export function decideRoute(profile: RoutingProfile | undefined, request: RoutingRequest): RouteDecision {
  const fallback = orPriority(profile?.strategy);
  const rule = profile?.rules.find((r) => conditionMatches(r.condition, request));
  if (rule) {
    return {
      // A rule may name only targets or only a strategy; the rest comes from the profile.
      strategy: rule.strategy === RoutingStrategy.UNSPECIFIED ? fallback : orPriority(rule.strategy),
      targets: rule.targets.length > 0 ? rule.targets : (profile?.targets ?? []),
      rule: rule.name,
    };
  }
  return { strategy: fallback, targets: profile?.targets ?? [], rule: "" };
}

function orPriority(strategy: RoutingStrategy | undefined): RouteDecision["strategy"] {
  return strategy === undefined || strategy === RoutingStrategy.UNSPECIFIED ? RoutingStrategy.PRIORITY : strategy;
}

export interface CandidateInput<A> {
  // The accounts usable for this request (enabled, supporting its currency), oldest first.
  accounts: readonly A[];
  request: RoutingRequest;
  // The profile's fee overrides and the providers' published defaults.
  fees: readonly Fee[];
  defaultFees: readonly Fee[];
  // Per account id, for SUCCESS_RATE.
  successRates?: ReadonlyMap<string, OutcomeCounts>;
  // In [0, 1), for WEIGHTED.
  random?: () => number;
  // Prices the request at a provider instead of the fee estimate, for
  // categories that charge per unit rather than per amount (messaging:
  // micros per SMS segment or email).
  price?: (provider: string) => bigint | undefined;
}

// What `provider` would charge for the request.
export function candidateFee(input: Omit<CandidateInput<unknown>, "accounts">, provider: string): bigint | undefined {
  return input.price ? input.price(provider) : estimateFee({ ...input.request, provider }, input.fees, input.defaultFees);
}

// What routing's choice is measured against: what the most expensive
// eligible account and the default account (the profile's first target,
// else the oldest account) would charge; undefined where no fee is known.
export interface FeeAlternatives {
  highest: bigint | undefined;
  default: bigint | undefined;
}

export function feeAlternatives<A extends { id: string; provider: string }>(
  profile: RoutingProfile | undefined,
  input: Omit<CandidateInput<A>, "successRates" | "random">,
): FeeAlternatives {
  const fees = input.accounts.map((a) => candidateFee(input, a.provider)).filter((f) => f !== undefined);
  const first = profile?.targets.map((t) => input.accounts.find((a) => a.id === t.providerAccountId)).find((a) => a !== undefined) ?? input.accounts[0];
  return {
    highest: fees.length > 0 ? fees.reduce((a, b) => (a > b ? a : b)) : undefined,
    default: first && candidateFee(input, first.provider),
  };
}

// The fee charged and the alternatives' beside it, as payments and messages
// keep them: an alternative whose fee is unknown, or lower than the one
// charged, counts as the one charged; with no fee known for the account
// chosen, nothing is counted at all.
export function comparedFees(fee: bigint | undefined, alternatives: FeeAlternatives): { fee: bigint; highest: bigint; default: bigint } {
  if (fee === undefined) return { fee: 0n, highest: 0n, default: 0n };
  const highest = alternatives.highest !== undefined && alternatives.highest > fee ? alternatives.highest : fee;
  return { fee, highest, default: alternatives.default ?? fee };
}

// The accounts to try, in order. Targets naming an account that is not
// usable are left out.
export function orderCandidates<A extends { id: string; provider: string }>(
  decision: RouteDecision,
  input: CandidateInput<A>,
): Candidate<A>[] {
  const byId = new Map(input.accounts.map((a) => [a.id, a]));
  const weighted: { account: A; weight: number; estimatedFee: bigint | undefined }[] = [];
  const entries =
    decision.targets.length > 0
      ? decision.targets.map((t) => ({ account: byId.get(t.providerAccountId), weight: t.weight }))
      : input.accounts.map((account) => ({ account, weight: 1 }));
  const seen = new Set<string>();
  for (const { account, weight } of entries) {
    if (!account || seen.has(account.id)) continue;
    seen.add(account.id);
    const estimatedFee = candidateFee(input, account.provider);
    weighted.push({ account, weight: Math.max(0, weight), estimatedFee });
  }

  // Array.prototype.sort is stable, so ties keep the targets' order.
  switch (decision.strategy) {
    case RoutingStrategy.PRIORITY:
      break;
    case RoutingStrategy.WEIGHTED: {
      weighted.sort((a, b) => b.weight - a.weight);
      const first = pickByWeight(weighted, input.random ?? Math.random);
      if (first > 0) weighted.unshift(...weighted.splice(first, 1));
      break;
    }
    case RoutingStrategy.CHEAPEST:
      weighted.sort((a, b) => compareFees(a.estimatedFee, b.estimatedFee));
      break;
    case RoutingStrategy.SUCCESS_RATE: {
      // Smoothed so an account without history counts as 50 %, neither best nor worst.
      const rate = (id: string) => {
        const counts = input.successRates?.get(id);
        return ((counts?.successes ?? 0) + 1) / ((counts?.attempts ?? 0) + 2);
      };
      weighted.sort((a, b) => rate(b.account.id) - rate(a.account.id));
      break;
    }
  }
  return weighted.map(({ account, estimatedFee }) => ({ account, estimatedFee }));
}

function compareFees(a: bigint | undefined, b: bigint | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

// Index of an entry drawn with probability proportional to its weight; the
// first when no entry has weight.
function pickByWeight(entries: readonly { weight: number }[], random: () => number): number {
  const total = entries.reduce((sum, e) => sum + e.weight, 0);
  if (total <= 0) return 0;
  let point = random() * total;
  for (const [i, e] of entries.entries()) {
    point -= e.weight;
    if (point < 0) return i;
  }
  return entries.length - 1;
}
