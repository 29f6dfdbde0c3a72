import type { Knex } from "knex";

// Tables that take rows with every payment, message, event or delivery keep
// their tenant_id without a foreign key to tenants. Postgres checks such a
// key by locking the tenant's row (FOR KEY SHARE) until commit, so all of a
// tenant's concurrent transactions lock its one row, and each new locker
// past the first writes a new multixact naming every locker: a cost that
// grows with concurrency (pgbench, 50 clients each inserting two rows of one
// tenant per transaction: 4,800 transactions per second with the key, 6,000
// without). Tenants are suspended, never deleted, and these rows take their
// tenant from the authenticated caller, so the key guarded nothing.
// Configuration tables (keys, accounts, endpoints) keep theirs.
export async function dropTenantForeignKeys(knex: Knex, tables: readonly string[]): Promise<void> {
  for (const table of tables) await knex.raw("alter table ?? drop constraint if exists ??", [table, `${table}_tenant_id_foreign`]);
}
