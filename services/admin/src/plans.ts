import type { PlanCounts } from "@onerouter/core";

// The plans a tenant can be on, as data. Zero means unlimited. Monthly
// quotas are counted per UTC calendar month by the gatekeeper; counts
// (members, provider accounts, webhook endpoints) are checked by the room
// that creates the thing counted.
export interface PlanDefinition {
  id: "free" | "pro" | "enterprise";
  name: string;
  monthlyApiRequests: number;
  monthlyPayments: number;
  monthlyMessages: number;
  // Per API key, besides the server's limit.
  requestsPerSecond: number;
  members: number;
  providerAccounts: number;
  webhookEndpoints: number;
}

export const plans: readonly PlanDefinition[] = [
  {
    id: "free",
    name: "Free",
    monthlyApiRequests: 1_000,
    monthlyPayments: 0,
    monthlyMessages: 0,
    requestsPerSecond: 10,
    members: 1,
    providerAccounts: 2,
    webhookEndpoints: 2,
  },
  {
    id: "pro",
    name: "Pro",
    monthlyApiRequests: 100_000,
    monthlyPayments: 0,
    monthlyMessages: 0,
    requestsPerSecond: 100,
    members: 5,
    providerAccounts: 10,
    webhookEndpoints: 20,
  },
  {
    id: "enterprise",
    name: "Enterprise",
    monthlyApiRequests: 0,
    monthlyPayments: 0,
    monthlyMessages: 0,
    requestsPerSecond: 0,
    members: 0,
    providerAccounts: 0,
    webhookEndpoints: 0,
  },
];

export function planById(id: string): PlanDefinition | undefined {
  return plans.find((plan) => plan.id === id);
}

// A tenant's plan. A plan id this version does not know is treated as the
// smallest plan.
export function tenantPlan(planId: string): PlanDefinition {
  return planById(planId) ?? planById("free")!;
}

// The counted limits of a tenant's plan, for the room that creates a counted
// thing.
export function planCounts(planId: string): PlanCounts {
  const plan = tenantPlan(planId);
  return {
    id: plan.id,
    members: plan.members,
    providerAccounts: plan.providerAccounts,
    webhookEndpoints: plan.webhookEndpoints,
  };
}

// The billing period containing `time`: its UTC calendar month.
export function billingPeriod(time: Date): { start: Date; end: Date } {
  return {
    start: new Date(Date.UTC(time.getUTCFullYear(), time.getUTCMonth(), 1)),
    end: new Date(Date.UTC(time.getUTCFullYear(), time.getUTCMonth() + 1, 1)),
  };
}
