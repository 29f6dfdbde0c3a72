import type { Migration } from "@onerouter/core";

// The notices that keep the gatekeeper's cache of API keys (by key hash, a
// TenantCache) true: a committed change of a key or of its tenant (revoked,
// deleted, suspended, another plan), whichever process or tool made it,
// sends a notice naming the tenant, which drops the tenant's keys; while
// notices may be missed, nothing is served from the cache. A key's expiry is
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

// The same triggers, skipped by a session whose notices no one can hear
// (core's changeNoticeSetting set to "off"): a CLI command on an embedded
// data folder then creates or revokes a key without loading PL/pgSQL. The
// condition is written out, so the migration stays what it was when applied.
export const apiKeyChangeNoticeWhenWantedMigration: Migration = {
  name: "20261209_130_gatekeeper_api_key_change_notices_when_wanted",
  async up(knex) {
    for (const [table, column] of [
      ["api_keys", "tenant_id"],
      ["tenants", "id"],
    ]) {
      await knex.raw(`drop trigger ${table}_gatekeeper_changed on ${table}`);
      await knex.raw(
        `create trigger ${table}_gatekeeper_changed after insert or update or delete on ${table} for each row ` +
          `when (current_setting('onerouter.change_notices', true) is distinct from 'off') execute function ${apiKeyChangeChannel}('${column}')`,
      );
    }
  },
};
