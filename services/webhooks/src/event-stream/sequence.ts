import type { Knex, Sql } from "@onerouter/core";

// Any fixed number will do, as long as nothing else takes the same lock.
const eventSequenceLock = 7_146_523_801;

// Taken by every transaction that records events, before it inserts them:
// the events' seq values are then drawn in the order the transactions
// commit, so a stream that has read up to seq N never later finds a
// committed event below N. Held until the transaction ends.
export async function lockEventSequence(trx: Knex): Promise<void> {
  await trx.raw("select pg_advisory_xact_lock(?)", [eventSequenceLock]);
}

// The same lock as a part of one statement that records the events of its
// part `source`, taken once and only when that part has a row. The insert
// must read this part (a join with it), so every seq is drawn after the lock
// is held; the lock is held until the statement's transaction ends.
export function lockEventSequenceSql(source: string): Sql {
  return { sql: `select pg_advisory_xact_lock(?) from "${source}" limit 1`, bindings: [eventSequenceLock] };
}

// The seq of the newest event recorded, "0" when there is none.
export async function latestEventSeq(knex: Knex): Promise<string> {
  const row = (await knex("webhook_events").max("seq as seq").first()) as { seq: string | number | null } | undefined;
  return String(row?.seq ?? 0);
}
