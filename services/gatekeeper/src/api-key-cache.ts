import type { ChangeNotices, Migration } from "@onerouter/core";

// API keys as the gatekeeper last read them, by key hash, so that a call
// costs no lookup. A committed change of a key or of its tenant (revoked,
// deleted, suspended, another plan), whichever process or tool made it,
// sends a notice naming the tenant, which drops the tenant's keys here; while
// notices may be missed, nothing is served from here. A key's expiry is
// checked on every call from the row, so it needs no notice.

export const apiKeyChangeChannel = "onerouter_api_keys_changed";

export const apiKeyChangeNoticeMigration: Migration = {
  name: "20261207_220_gatekeeper_api_key_change_notices",
  async up(knex) {
    // The trigger's argument names the column that holds the tenant's id.
    await knex.raw(`
      create or replace function ${apiKeyChangeChannel}() returns trigger language plpgsql as $$
      begin
        perform pg_notify('${apiKeyChangeChannel}', to_jsonb(coalesce(new, old)) ->> tg_argv[0]);
        return null;
      end $$`);
    for (const [table, column] of [
      ["api_keys", "tenant_id"],
      ["tenants", "id"],
    ]) {
      await knex.raw(
        `create trigger ${table}_gatekeeper_changed after insert or update or delete on ${table} for each row execute function ${apiKeyChangeChannel}('${column}')`,
      );
    }
  },
};

interface Entry<Row> {
  tenantId: string;
  row: Row;
}

export class ApiKeyCache<Row extends { tenant_id: string }> {
  // Oldest first, so the first key is the one to forget when full.
  private readonly entries = new Map<string, Entry<Row>>();
  // Bumped by every notice and loss: a load that overlaps one is answered but not kept.
  private changes = 0;

  constructor(
    private readonly notices: ChangeNotices,
    private readonly maxSize: number,
  ) {
    notices.listen(apiKeyChangeChannel, {
      changed: (tenantId) => {
        this.changes += 1;
        for (const [hash, entry] of this.entries) if (entry.tenantId === tenantId) this.entries.delete(hash);
      },
      lost: () => {
        this.changes += 1;
        this.entries.clear();
      },
    });
  }

  // The row of the key with `hash`, from memory or from `load` (undefined: no such key).
  async get(hash: string, load: () => Promise<Row | undefined>): Promise<Row | undefined> {
    if (!this.notices.live) return load();
    const cached = this.entries.get(hash);
    if (cached) return cached.row;
    const changes = this.changes;
    const row = await load();
    if (row && this.maxSize > 0 && this.changes === changes && this.notices.live) {
      this.entries.set(hash, { tenantId: row.tenant_id, row });
      if (this.entries.size > this.maxSize) this.entries.delete(this.entries.keys().next().value!);
    }
    return row;
  }
}
