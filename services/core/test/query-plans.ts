import type { Knex } from "knex";

// The index conditions Postgres would use for the first statement `run`
// sends, planned with sequential scans ruled out as far as the planner can:
// a filter missing from every index condition would read every row of the
// tenant's (or the whole) table however few it matches. Postgres only.
//
// `generic` plans it as a prepared statement's generic plan, the one
// Postgres keeps for any parameters after a few runs: made from the tables'
// statistics, which on a fresh database say every table is nearly empty, so
// only the statement's shape can steer it to the right index.
export async function indexConditionsOf(
  knex: Knex,
  run: () => Promise<unknown>,
  options: { generic?: boolean } = {},
): Promise<{ sql: string; conditions: string[]; seqScans: string[] }> {
  let first: { sql: string; bindings: readonly unknown[] } | undefined;
  // The statement as the driver got it: numbered placeholders, in order.
  const capture = (q: { sql: string; bindings?: readonly unknown[] }) => {
    // A transaction's own statements are not the run's.
    if (/^\s*(begin|commit|rollback|savepoint|release)\b/i.test(q.sql)) return;
    first ??= { sql: q.sql, bindings: q.bindings ?? [] };
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
    type Explained = { rows: { "QUERY PLAN": { Plan: PlanNode }[] }[] };
    let explained: Explained;
    if (options.generic) {
      await trx.raw("set local plan_cache_mode = force_generic_plan");
      await trx.raw(`prepare plan_probe as ${statement.sql}`);
      explained = (await trx.raw(`explain (format json) execute plan_probe(${statement.bindings.map(sqlLiteral).join(", ")})`)) as Explained;
      await trx.raw("deallocate plan_probe");
    } else {
      explained = (await trx.raw(`explain (format json) ${statement.sql.replace(/\$\d+/g, "?")}`, statement.bindings as Knex.RawBinding[])) as Explained;
    }
    const { rows } = explained;
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

// A binding as an SQL literal of unknown type, which takes its parameter's type.
function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return "null";
  let text: string;
  if (value instanceof Date) text = value.toISOString();
  else if (typeof value === "object") text = JSON.stringify(value);
  else text = String(value);
  return `'${text.replaceAll("'", "''")}'`;
}

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Cond"?: string;
  Plans?: PlanNode[];
}
