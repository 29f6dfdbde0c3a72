import { RoutingStrategy, type RoutingProfile, type RoutingTarget } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";

// Where a payment would go under a routing profile, read the way the
// routing kernel reads it: the first rule whose condition matches decides
// the strategy and targets, else the profile's own. Health and live success
// rates are the server's to know, so the preview names the candidates in
// the order the strategy tries them, with each one's share where weighted.

export interface PreviewInput {
  amount: bigint;
  currency: string;
  country: string;
}

export interface PreviewCandidate {
  providerAccountId: string;
  // Of 100, for a weighted split.
  share?: number;
}

export interface RoutePreview {
  rule?: string;
  strategy: RoutingStrategy;
  candidates: PreviewCandidate[];
}

export function previewRoute(profile: RoutingProfile, input: PreviewInput): RoutePreview {
  const rule = profile.rules.find((candidate) => {
    const condition = candidate.condition;
    if (!condition) return true;
    if (condition.currencies.length > 0 && !condition.currencies.includes(input.currency.toUpperCase())) return false;
    if (condition.countries.length > 0 && !condition.countries.includes(input.country.toUpperCase())) return false;
    if (condition.minAmount > 0n && input.amount < condition.minAmount) return false;
    if (condition.maxAmount > 0n && input.amount > condition.maxAmount) return false;
    return true;
  });
  const strategy = rule && rule.strategy !== RoutingStrategy.UNSPECIFIED ? rule.strategy : profile.strategy;
  const targets = rule && rule.targets.length > 0 ? rule.targets : profile.targets;
  return { rule: rule?.name, strategy, candidates: candidatesOf(strategy, targets) };
}

function candidatesOf(strategy: RoutingStrategy, targets: RoutingTarget[]): PreviewCandidate[] {
  if (strategy !== RoutingStrategy.WEIGHTED) return targets.map((t) => ({ providerAccountId: t.providerAccountId }));
  const total = targets.reduce((sum, t) => sum + Math.max(0, t.weight), 0);
  return [...targets]
    .sort((a, b) => b.weight - a.weight)
    .map((t) => ({ providerAccountId: t.providerAccountId, share: total > 0 ? Math.round((Math.max(0, t.weight) * 1000) / total) / 10 : 0 }));
}
