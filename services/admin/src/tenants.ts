import type { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import type { Knex } from "@onerouter/core";
import { invalidArgument, notFound } from "@onerouter/core/errors";
import { newId } from "@onerouter/core/ids";
import { recordAudit } from "./audit";
import { planById, plans } from "./plans";

export interface TenantRow {
  id: string;
  name: string;
  plan_id: string;
  suspended_at: Date | null;
  created_at: Date;
}

// A tenant with no members yet: its first owner is made with
// `onerouter members create`.
export async function createTenant(knex: Knex, input: { name: string; planId: string }): Promise<TenantRow> {
  const [tenant] = (await knex("tenants")
    .insert({ id: newId("ten"), name: input.name, plan_id: input.planId })
    .returning("*")) as TenantRow[];
  return tenant!;
}

// The embedded product starts with one tenant so a newcomer can create a key
// and call the API at once. It is the operator's own, so it has no limits.
// Returns it, and whether it was just made.
export async function ensureDefaultTenant(knex: Knex): Promise<{ tenant: TenantRow; created: boolean }> {
  const existing = (await knex("tenants").orderBy("created_at").first()) as TenantRow | undefined;
  if (existing) return { tenant: existing, created: false };
  return { tenant: await createTenant(knex, { name: "Default", planId: "enterprise" }), created: true };
}

export interface TenantChange {
  tenantId: string;
  actor: string;
  // Where the audit entry is written: the caller's environment, or live for
  // the operator's own commands.
  environment: Environment;
  ipAddress?: string;
}

// Moves a tenant to another plan; answers the tenant, unchanged when it was
// on that plan already. Usage already counted stays; counted limits apply to
// what is created from now on.
export async function setTenantPlan(knex: Knex, change: TenantChange, planId: string): Promise<TenantRow> {
  if (!planById(planId)) throw invalidArgument("plan_id", `"${planId}" is not a plan; plans are ${plans.map((p) => p.id).join(", ")}`);
  return changeTenant(knex, change, (tenant) =>
    tenant.plan_id === planId
      ? undefined
      : { update: { plan_id: planId }, action: "tenant.plan_update", metadata: { from_plan_id: tenant.plan_id, plan_id: planId } },
  );
}

// A suspended tenant's keys and sessions are refused; nothing is deleted.
export async function setTenantSuspended(knex: Knex, change: TenantChange, suspended: boolean): Promise<TenantRow> {
  return changeTenant(knex, change, (tenant) => {
    if (Boolean(tenant.suspended_at) === suspended) return undefined;
    return suspended
      ? { update: { suspended_at: new Date() }, action: "tenant.suspend" }
      : { update: { suspended_at: null }, action: "tenant.resume" };
  });
}

export async function listTenants(knex: Knex): Promise<TenantRow[]> {
  return (await knex("tenants").orderBy("created_at").orderBy("id")) as TenantRow[];
}

async function changeTenant(
  knex: Knex,
  change: TenantChange,
  decide: (tenant: TenantRow) => { update: Partial<TenantRow>; action: string; metadata?: Record<string, string> } | undefined,
): Promise<TenantRow> {
  return knex.transaction(async (trx) => {
    const tenant = (await trx("tenants").where({ id: change.tenantId }).forUpdate().first()) as TenantRow | undefined;
    if (!tenant) throw notFound("tenant", change.tenantId);
    const decided = decide(tenant);
    if (!decided) return tenant;
    const [updated] = (await trx("tenants").where({ id: tenant.id }).update(decided.update).returning("*")) as TenantRow[];
    await recordAudit(trx, {
      tenantId: tenant.id,
      actor: change.actor,
      action: decided.action,
      resourceType: "tenant",
      resourceId: tenant.id,
      environment: change.environment,
      ipAddress: change.ipAddress,
      metadata: decided.metadata,
    });
    return updated!;
  });
}
