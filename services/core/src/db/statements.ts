import type { Knex } from "knex";

// Several writes as one statement. Postgres runs every data-modifying part of
// a WITH whether or not the rest reads it, and a statement is atomic on its
// own, so writes that would take a transaction of several round trips take
// one; each round trip costs the server a socket write and Postgres a wake-up.

// A piece of SQL with its `?` bindings, as knex.raw takes them.
export interface Sql {
  sql: string;
  bindings: readonly unknown[];
}

export function sqlOf(query: Knex.QueryBuilder | Knex.Raw): Sql {
  const { sql, bindings } = query.toSQL();
  return { sql, bindings };
}

// Inserts `row` (every column it names) as `insert … select … from
// json_populate_record`, so that a `where` may follow and decide whether it
// is written. jsonb columns take the value itself, not its JSON text;
// bigints are written as text and Buffers as bytea.
export function insertRowSql(table: string, row: Record<string, unknown>): Sql {
  const columns = Object.keys(row)
    .map((c) => `"${c}"`)
    .join(", ");
  return {
    sql: `insert into "${table}" (${columns}) select ${columns} from json_populate_record(null::"${table}", ?::json)`,
    bindings: [JSON.stringify(row, recordValue)],
  };
}

function recordValue(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  if (typeof raw === "bigint") return raw.toString();
  if (Buffer.isBuffer(raw)) return `\\x${raw.toString("hex")}`;
  return value;
}

// `parts` as named parts of one WITH, then `select` (which may read them).
export function withParts(parts: readonly (readonly [name: string, part: Sql])[], select: Sql): Sql {
  return {
    sql: `with ${parts.map(([name, part]) => `"${name}" as (${part.sql})`).join(", ")} ${select.sql}`,
    bindings: [...parts.flatMap(([, part]) => part.bindings), ...select.bindings],
  };
}

// Runs independent writes as one statement.
export async function writeTogether(knex: Knex, writes: readonly Sql[]): Promise<void> {
  if (writes.length === 0) return;
  const { sql, bindings } = withParts(
    writes.map((write, i) => [`write_${i}`, write] as const),
    { sql: "select 1", bindings: [] },
  );
  await knex.raw(sql, bindings as Knex.RawBinding[]);
}
