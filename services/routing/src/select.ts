import { durationMs } from "@bufbuild/protobuf/wkt";
import {
  RoutingStrategy,
  type Fee,
  type LearningOptions,
  type RoutingCondition,
  type RoutingProfile,
  type RoutingTarget,
} from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { copyWith } from "@onerouter/core";
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
  // Why routing put the account at its place, stored on its attempt, e.g.
  // "chosen: best score 0.97 × fee 1.9 %".
  reason: string;
}

// What SUCCESS_RATE and CHEAPEST_RELIABLE learn with, defaults applied.
export interface Learning {
  explorationShare: number;
  // Fractions of 1 (the proto's percentage points / 100).
  eliminationGap: number;
  eliminationMinAttempts: number;
  successRateTolerance: number;
}

export const defaultLearning: Learning = { explorationShare: 0.05, eliminationGap: 0.3, eliminationMinAttempts: 20, successRateTolerance: 0.02 };

export function learningOf(options: LearningOptions | undefined): Learning {
  return {
    explorationShare: options?.explorationShare ?? defaultLearning.explorationShare,
    eliminationGap: options?.eliminationGapPoints === undefined ? defaultLearning.eliminationGap : options.eliminationGapPoints / 100,
    eliminationMinAttempts: options?.eliminationMinAttempts ?? defaultLearning.eliminationMinAttempts,
    successRateTolerance:
      options?.successRateTolerancePoints === undefined ? defaultLearning.successRateTolerance : options.successRateTolerancePoints / 100,
  };
}

// Strategies that order by recent success rates.
export function learnsFromOutcomes(strategy: RoutingStrategy): boolean {
  return strategy === RoutingStrategy.SUCCESS_RATE || strategy === RoutingStrategy.CHEAPEST_RELIABLE;
}

const defaultSuccessRateWindowMs = 3600_000;

// The longest success-rate window. A longer one saved before profiles were
// held to this counts as this, so the window's start is always a real time.
export const maxSuccessRateWindowMs = 30 * 86_400_000;

export function successRateWindowMs(profile: RoutingProfile | undefined): number {
  const window = profile?.successRateWindow ? durationMs(profile.successRateWindow) : 0;
  return window > 0 ? Math.min(window, maxSuccessRateWindowMs) : defaultSuccessRateWindowMs;
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
  // Per account id: prices its provider published for it through an API,
  // which come before the defaults.
  publishedFees?: ReadonlyMap<string, readonly Fee[]>;
  // Per account id, for SUCCESS_RATE and CHEAPEST_RELIABLE.
  successRates?: ReadonlyMap<string, OutcomeCounts>;
  learning?: Learning;
  // In [0, 1), for WEIGHTED and exploration.
  random?: () => number;
  // Prices the request at a provider instead of the fee estimate, for
  // categories that charge per unit rather than per amount (messaging:
  // micros per SMS segment or email), given the account's default fees.
  price?: (provider: string, defaultFees: readonly Fee[]) => bigint | undefined;
}

// What `account` would charge for the request: its provider's published
// prices, where synced, go before the default fee table.
export function candidateFee(
  input: Omit<CandidateInput<unknown>, "accounts">,
  account: { id: string; provider: string },
): bigint | undefined {
  const published = input.publishedFees?.get(account.id);
  const defaults = published ? [...published, ...input.defaultFees] : input.defaultFees;
  return input.price
    ? input.price(account.provider, defaults)
    : estimateFee(copyWith(input.request, { provider: account.provider }), input.fees, defaults);
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
  const fees = input.accounts.map((a) => candidateFee(input, a)).filter((f) => f !== undefined);
  const first = profile?.targets.map((t) => input.accounts.find((a) => a.id === t.providerAccountId)).find((a) => a !== undefined) ?? input.accounts[0];
  return {
    highest: fees.length > 0 ? fees.reduce((a, b) => (a > b ? a : b)) : undefined,
    default: first && candidateFee(input, first),
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

interface Entry<A> {
  account: A;
  weight: number;
  estimatedFee: bigint | undefined;
  // Smoothed success rate and the finished attempts it comes from, for the strategies that learn.
  score: number;
  attempts: number;
  eliminated: boolean;
  reason?: string;
}

// The accounts to try, in order, each with why it is there. Targets naming
// an account that is not usable are left out.
export function orderCandidates<A extends { id: string; provider: string }>(
  decision: RouteDecision,
  input: CandidateInput<A>,
): Candidate<A>[] {
  const byId = new Map(input.accounts.map((a) => [a.id, a]));
  const entries: Entry<A>[] = [];
  const listed =
    decision.targets.length > 0
      ? decision.targets.map((t) => ({ account: byId.get(t.providerAccountId), weight: t.weight }))
      : input.accounts.map((account) => ({ account, weight: 1 }));
  const seen = new Set<string>();
  for (const { account, weight } of listed) {
    if (!account || seen.has(account.id)) continue;
    seen.add(account.id);
    const estimatedFee = candidateFee(input, account);
    // Smoothed so an account without history counts as 50 %, neither best nor worst.
    const counts = input.successRates?.get(account.id);
    const score = ((counts?.successes ?? 0) + 1) / ((counts?.attempts ?? 0) + 2);
    entries.push({ account, weight: Math.max(0, weight), estimatedFee, score, attempts: counts?.attempts ?? 0, eliminated: false });
  }
  const random = input.random ?? Math.random;
  const fee = (e: Entry<A>) => feeText(e.estimatedFee, input);

  // Array.prototype.sort is stable, so ties keep the targets' order.
  switch (decision.strategy) {
    case RoutingStrategy.PRIORITY:
      entries.forEach((e, i) => (e.reason = `priority ${i + 1} of ${entries.length}`));
      break;
    case RoutingStrategy.WEIGHTED: {
      const total = entries.reduce((sum, e) => sum + e.weight, 0);
      entries.sort((a, b) => b.weight - a.weight);
      const first = pickByWeight(entries, random);
      if (first > 0) entries.unshift(...entries.splice(first, 1));
      for (const e of entries) e.reason = `weight ${e.weight} of ${total}`;
      break;
    }
    case RoutingStrategy.CHEAPEST:
      entries.sort((a, b) => compareFees(a.estimatedFee, b.estimatedFee));
      for (const e of entries) e.reason = fee(e);
      break;
    case RoutingStrategy.SUCCESS_RATE:
    case RoutingStrategy.CHEAPEST_RELIABLE:
      learnedOrder(decision.strategy, entries, input.learning ?? defaultLearning, random, fee);
      break;
  }
  return entries.map(({ account, estimatedFee, reason }, i) => ({ account, estimatedFee, reason: `${i === 0 ? "chosen" : "failover"}: ${reason}` }));
}

// Orders by success score (SUCCESS_RATE) or by fee among the accounts whose
// score is within the tolerance of the best (CHEAPEST_RELIABLE). An account
// whose score with enough attempts falls the elimination gap below the best
// goes last; with the exploration share's probability another account than
// the choice goes first, drawn uniformly.
function learnedOrder<A>(
  strategy: RoutingStrategy,
  entries: Entry<A>[],
  learning: Learning,
  random: () => number,
  fee: (e: Entry<A>) => string,
): void {
  const best = Math.max(...entries.map((e) => e.score));
  const score = (e: Entry<A>) => `score ${e.score.toFixed(2)} × ${fee(e)}`;
  for (const e of entries) {
    e.eliminated = best - e.score > learning.eliminationGap && e.attempts >= learning.eliminationMinAttempts;
  }
  const byScore = (a: Entry<A>, b: Entry<A>) => b.score - a.score;
  const reliable = (e: Entry<A>) => !e.eliminated && best - e.score <= learning.successRateTolerance + 1e-9;
  if (strategy === RoutingStrategy.CHEAPEST_RELIABLE) {
    const points = Math.round(learning.successRateTolerance * 100);
    entries.sort((a, b) => {
      if (reliable(a) !== reliable(b)) return reliable(a) ? -1 : 1;
      if (a.eliminated !== b.eliminated) return a.eliminated ? 1 : -1;
      return reliable(a) ? compareFees(a.estimatedFee, b.estimatedFee) || byScore(a, b) : byScore(a, b);
    });
    for (const e of entries) {
      e.reason = reliable(e) ? `cheapest within ${points} points of the best score ${best.toFixed(2)}: ${score(e)}` : score(e);
    }
  } else {
    entries.sort((a, b) => (a.eliminated !== b.eliminated ? (a.eliminated ? 1 : -1) : byScore(a, b)));
    for (const e of entries) e.reason = e.score === best ? `best ${score(e)}` : score(e);
  }
  for (const e of entries) {
    if (e.eliminated) e.reason = `eliminated, more than ${Math.round(learning.eliminationGap * 100)} points below the best score ${best.toFixed(2)}: ${score(e)}`;
  }
  const others = entries.slice(1).filter((e) => !e.eliminated);
  if (others.length > 0 && random() < learning.explorationShare) {
    const explored = others[Math.min(others.length - 1, Math.floor(random() * others.length))]!;
    entries.splice(entries.indexOf(explored), 1);
    entries.unshift(explored);
    explored.reason = `exploring (${formatShare(learning.explorationShare)} of calls test other accounts): ${score(explored)}`;
  }
}

function formatShare(share: number): string {
  return `${+(share * 100).toFixed(1)} %`;
}

// A fee as the reason shows it: a percentage of the amount, or a unit price.
function feeText(estimated: bigint | undefined, input: CandidateInput<unknown>): string {
  if (estimated === undefined) return "fee unknown";
  if (input.price) return `price ${(Number(estimated) / 1e6).toFixed(6).replace(/0+$/, "").replace(/\.$/, "")} ${input.request.currency}`;
  const amount = Number(input.request.amount);
  if (amount <= 0) return `fee ${estimated}`;
  return `fee ${+((Number(estimated) / amount) * 100).toFixed(2)} %`;
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
