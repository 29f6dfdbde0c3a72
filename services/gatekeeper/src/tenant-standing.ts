import { Code } from "@connectrpc/connect";
import { planCounts } from "@onerouter/admin";
import { apiError, type PlanCounts } from "@onerouter/core";

// The tenant's columns every identity lookup (API key or session) joins in,
// so that suspension and the plan cost no extra query.
export interface TenantStandingRow {
  tenant_id: string;
  plan_id: string;
  suspended_at: Date | null;
}

// Refuses every call of a suspended tenant (nothing of it is deleted), and
// otherwise answers the counted limits of its plan for the caller.
export function tenantStanding(row: TenantStandingRow): PlanCounts {
  if (row.suspended_at) {
    throw apiError(Code.PermissionDenied, "TENANT_SUSPENDED", "this tenant is suspended; contact the operator of this OneRouter", {
      tenant_id: row.tenant_id,
    });
  }
  return planCounts(row.plan_id);
}
