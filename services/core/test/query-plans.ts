import type { Knex } from "knex";

// The index conditions Postgres would use for the first statement `run`
// sends, planned with sequential scans ruled out as far as the planner can:
// a filter missing from every index condition would read every row of the
// tenant's (or the whole) table however few it matches. Postgres only.
export async function indexConditionsOf(knex: Knex, run: () => Promise<unknown>): Promise<{ sql: string; conditions: string[]; seqScans: string[] }> {
  let first: { sql: string; bindings: readonly unknown[] } | undefined;
  // The statement as the driver got it: numbered placeholders, in order.
  const capture = (q: { sql: string; bindings?: readonly unknown[] }) => {
    // A transaction's own statements are not the run's.
    if (/^\s*(begin|commit|rollback|savepoint|release)\b/i.test(q.sql)) return;
    first ??= { sql: q.sql.replace(/\$\d+/g, "?"), bindings: q.bindings ?? [] };
  };
  knex.on("query", capture);
  try {
    await run();
  } finally {
    knex.off("query", capture);
  }
  if (!first) throw new Error("the run sent no statement");
  const statement = first;
  return knex.transaction(async (trx) => {
    await trx.raw("set local enable_seqscan = off");
    const { rows } = (await trx.raw(`explain (format json) ${statement.sql}`, statement.bindings as Knex.RawBinding[])) as {
      rows: { "QUERY PLAN": { Plan: PlanNode }[] }[];
    };
    const conditions: string[] = [];
    const seqScans: string[] = [];
    const walk = (node: PlanNode) => {
      if (node["Index Cond"]) conditions.push(node["Index Cond"]);
      if (node["Node Type"] === "Seq Scan") seqScans.push(node["Relation Name"] ?? "");
      for (const child of node.Plans ?? []) walk(child);
    };
    walk(rows[0]!["QUERY PLAN"][0]!.Plan);
    return { sql: statement.sql, conditions, seqScans };
  });
}

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Cond"?: string;
  Plans?: PlanNode[];
}
