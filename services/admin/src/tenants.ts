import { newId, type Knex } from "@onerouter/core";

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
