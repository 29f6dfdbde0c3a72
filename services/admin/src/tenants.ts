import { newId, type Knex } from "@onerouter/core";

export interface TenantRow {
  id: string;
  name: string;
  plan_id: string;
  created_at: Date;
}

export async function createTenant(knex: Knex, input: { name: string; ownerEmail: string }): Promise<TenantRow> {
  return knex.transaction(async (trx) => {
    const [tenant] = (await trx("tenants")
      .insert({ id: newId("ten"), name: input.name })
      .returning("*")) as TenantRow[];
    await trx("members").insert({
      id: newId("mem"),
      tenant_id: tenant!.id,
      email: input.ownerEmail,
      role: "owner",
    });
    return tenant!;
  });
}

// The embedded product starts with one tenant so a newcomer can create a key
// and call the API at once. Returns it, and whether it was just made.
export async function ensureDefaultTenant(knex: Knex): Promise<{ tenant: TenantRow; created: boolean }> {
  const existing = (await knex("tenants").orderBy("created_at").first()) as TenantRow | undefined;
  if (existing) return { tenant: existing, created: false };
  return { tenant: await createTenant(knex, { name: "Default", ownerEmail: "owner@localhost" }), created: true };
}
