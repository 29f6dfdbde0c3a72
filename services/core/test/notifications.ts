import type { Knex } from "knex";
import { notificationsApplicationName } from "../src/db/notifications";

// The backends of the processes' notification connections to this database
// (db/notifications.ts), by pid. A closed or terminated one stays listed a
// moment after its client let go, until the backend has exited.
export async function notificationBackends(knex: Knex): Promise<number[]> {
  const { rows } = (await knex.raw("select pid from pg_stat_activity where datname = current_database() and application_name = ?", [notificationsApplicationName])) as {
    rows: { pid: number }[];
  };
  return rows.map((r) => r.pid);
}
