import type { Knex, MasterKeyring } from "@onerouter/core";

// Re-wraps every tenant data key not yet under the current master key, a
// batch per short transaction so callers using those keys meanwhile wait
// milliseconds at most. The data keys themselves do not change, so nothing
// sealed with them (provider credentials) needs touching. Returns how many.
export async function rewrapTenantDataKeys(knex: Knex, keys: MasterKeyring, batchSize = 50): Promise<number> {
  let total = 0;
  for (;;) {
    const count = await knex.transaction(async (trx) => {
      const rows = (await trx("tenant_data_keys")
        .whereNot("wrapped_key", "like", `${keys.currentId}:%`)
        .orderBy("tenant_id")
        .limit(batchSize)
        .forUpdate()) as { tenant_id: string; wrapped_key: string }[];
      for (const row of rows) {
        const context = `tenant-data-key:${row.tenant_id}`;
        await trx("tenant_data_keys")
          .where({ tenant_id: row.tenant_id })
          .update({ wrapped_key: keys.seal(keys.open(row.wrapped_key, context), context) });
      }
      return rows.length;
    });
    if (count === 0) return total;
    total += count;
  }
}
