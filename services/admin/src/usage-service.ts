import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import {
  GetPlanResponseSchema,
  GetUsageResponseSchema,
  ListPlansResponseSchema,
  PlanSchema,
  UpdatePlanResponseSchema,
  UsageMetricSchema,
  UsageSchema,
  type Plan,
  type UsageService,
} from "@onerouter/client/gen/onerouter/admin/v1/usage_pb";
import { sandboxProviders } from "@onerouter/sandbox";
import { apiError, remoteAddressKey, requireCaller, validTimestamp, type Knex } from "@onerouter/core";
import { billingPeriod, planById, plans, tenantPlan, type PlanDefinition } from "./plans";
import { setTenantPlan, type TenantRow } from "./tenants";

export function toPlan(plan: PlanDefinition): Plan {
  return create(PlanSchema, {
    id: plan.id,
    name: plan.name,
    monthlyApiRequests: BigInt(plan.monthlyApiRequests),
    monthlyPayments: BigInt(plan.monthlyPayments),
    monthlyMessages: BigInt(plan.monthlyMessages),
    requestsPerSecond: plan.requestsPerSecond,
    members: plan.members,
    providerAccounts: plan.providerAccounts,
    webhookEndpoints: plan.webhookEndpoints,
  });
}

const sandboxNames: readonly string[] = Object.values(sandboxProviders);

// Provider accounts the plan counts: accounts of the built-in sandbox (those
// every test environment starts with, and any more) are not, so they never
// block a tenant.
export function isSandboxProvider(provider: string): boolean {
  return sandboxNames.includes(provider);
}

export async function countedProviderAccounts(knex: Knex, tenantId: string): Promise<number> {
  return count(knex("provider_accounts").where({ tenant_id: tenantId }).whereNotIn("provider", sandboxNames));
}

async function count(query: Knex.QueryBuilder): Promise<number> {
  const row = (await query.count({ n: "*" }).first()) as { n: number | string } | undefined;
  return Number(row?.n ?? 0);
}

async function storedPlan(knex: Knex, tenantId: string): Promise<PlanDefinition> {
  const tenant = (await knex("tenants").where({ id: tenantId }).first("plan_id")) as Pick<TenantRow, "plan_id"> | undefined;
  return tenantPlan(tenant?.plan_id ?? "");
}

export function usageService(knex: Knex): ServiceImpl<typeof UsageService> {
  return {
    async getPlan(_req, ctx) {
      const caller = requireCaller(ctx);
      return create(GetPlanResponseSchema, { plan: toPlan(await storedPlan(knex, caller.tenantId)) });
    },

    async listPlans() {
      return create(ListPlansResponseSchema, { plans: plans.map(toPlan) });
    },

    // Owners only: an API key (even with admin:write) acts like an admin
    // member, who cannot change the plan.
    async updatePlan(req, ctx) {
      const caller = requireCaller(ctx);
      if (caller.member?.role !== "owner") {
        throw apiError(Code.PermissionDenied, "OWNER_REQUIRED", "only an owner of the tenant, signed in to the console, can change its plan");
      }
      const tenant = await setTenantPlan(
        knex,
        { tenantId: caller.tenantId, actor: caller.actor, environment: caller.environment, ipAddress: ctx.values.get(remoteAddressKey) },
        req.planId,
      );
      return create(UpdatePlanResponseSchema, { plan: toPlan(planById(tenant.plan_id)!) });
    },

    // Quotas per UTC calendar month, as the gatekeeper counts them (its
    // counts reach the table within about a second); counts as they are now.
    async getUsage(req, ctx) {
      const caller = requireCaller(ctx);
      const period = billingPeriod(req.periodTime ? validTimestamp("period_time", req.periodTime) : new Date());
      const plan = await storedPlan(knex, caller.tenantId);
      const counters = (await knex("usage_counters")
        .where({ tenant_id: caller.tenantId, period_start: period.start })
        .select("metric", "count")) as { metric: string; count: number | string }[];
      const counted = (metric: string) => Number(counters.find((c) => c.metric === metric)?.count ?? 0);
      // A delivery's first attempt is when it was made.
      const deliveries = await count(
        knex("webhook_delivery_attempts")
          .where({ tenant_id: caller.tenantId, attempt_number: 1 })
          .where("created_at", ">=", period.start)
          .where("created_at", "<", period.end),
      );
      const metrics: [string, number, number][] = [
        ["api_requests", counted("api_requests"), plan.monthlyApiRequests],
        ["payments", counted("payments"), plan.monthlyPayments],
        ["messages", counted("messages"), plan.monthlyMessages],
        ["webhook_deliveries", deliveries, 0],
        ["members", await count(knex("members").where({ tenant_id: caller.tenantId })), plan.members],
        ["provider_accounts", await countedProviderAccounts(knex, caller.tenantId), plan.providerAccounts],
        ["webhook_endpoints", await count(knex("webhook_endpoints").where({ tenant_id: caller.tenantId })), plan.webhookEndpoints],
      ];
      return create(GetUsageResponseSchema, {
        usage: create(UsageSchema, {
          periodStartTime: timestampFromDate(period.start),
          periodEndTime: timestampFromDate(period.end),
          metrics: metrics.map(([name, used, limit]) => create(UsageMetricSchema, { name, used: BigInt(used), limit: BigInt(limit) })),
        }),
      });
    },
  };
}
