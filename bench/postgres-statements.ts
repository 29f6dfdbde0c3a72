import type { Knex } from "knex";

// What each statement cost Postgres over a window, from pg_stat_statements
// (on a cluster started with startPostgres({ statementStats: true })):
// reset at the start of the window, read at its end. Times are Postgres's
// own wall time in planning and executing, lock waits included.

export interface StatementCost {
  // The statement's text with its constants as $n, shortened.
  text: string;
  calls: number;
  planMs: number;
  execMs: number;
  rows: number;
}

export async function resetStatementStats(knex: Knex): Promise<void> {
  await knex.raw("create extension if not exists pg_stat_statements");
  await knex.raw("select pg_stat_statements_reset()");
}

// The window's statements, costliest first; the reads of the statistics themselves left out.
export async function readStatementStats(knex: Knex): Promise<StatementCost[]> {
  const { rows } = (await knex.raw(
    `select query, calls, total_plan_time, total_exec_time, rows
       from pg_stat_statements
      where dbid = (select oid from pg_database where datname = current_database())
        and query not like '%pg_stat_statements%'
      order by total_plan_time + total_exec_time desc`,
  )) as { rows: { query: string; calls: string; total_plan_time: number; total_exec_time: number; rows: string }[] };
  return rows.map((r) => ({
    text: shorten(r.query),
    calls: Number(r.calls),
    planMs: r.total_plan_time,
    execMs: r.total_exec_time,
    rows: Number(r.rows),
  }));
}

function shorten(query: string): string {
  const oneLine = query.replace(/\s+/g, " ").trim();
  return oneLine.length > 110 ? `${oneLine.slice(0, 107)}…` : oneLine;
}
