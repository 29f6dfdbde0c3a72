import { createHash } from "node:crypto";
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
    bindings: [recordJson(row)],
  };
}

// Inserts `rows` (every column the first names; all name the same) as
// `insert … select … from json_populate_recordset … where <where>`, in the
// order of `orderBy`: one binding however many rows, so a batch is one
// statement of one text. Values are written as insertRowSql writes them.
export function insertRowsSql(table: string, rows: readonly Record<string, unknown>[], options: { where?: string; orderBy?: string } = {}): Sql {
  const select = selectRowsSql(table, rows);
  return {
    sql:
      `insert into "${table}" (${columnsOf(rows)}) ${select.sql}` +
      (options.where ? ` where ${options.where}` : "") +
      (options.orderBy ? ` order by ${options.orderBy}` : ""),
    bindings: select.bindings,
  };
}

// `rows` (every column the first names; all name the same) as rows of
// `table`'s type, selected from one binding; values as insertRowSql takes them.
export function selectRowsSql(table: string, rows: readonly Record<string, unknown>[]): Sql {
  return {
    sql: `select ${columnsOf(rows)} from json_populate_recordset(null::"${table}", ?::json)`,
    bindings: [recordJson(rows)],
  };
}

function columnsOf(rows: readonly Record<string, unknown>[]): string {
  return Object.keys(rows[0] ?? {})
    .map((c) => `"${c}"`)
    .join(", ");
}

// The JSON text of a row or rows, their bigint columns as text and Buffer
// columns as bytea's hex; a jsonb column's value is written as
// JSON.stringify writes it. The columns are converted before JSON.stringify
// runs rather than by a replacer, which takes V8 off its fast path for every
// value (with one, this was the hot path's costliest function of our own).
function recordJson(record: Record<string, unknown> | readonly Record<string, unknown>[]): string {
  return JSON.stringify(Array.isArray(record) ? record.map(withColumnsAsJson) : withColumnsAsJson(record as Record<string, unknown>));
}

function withColumnsAsJson(row: Record<string, unknown>): Record<string, unknown> {
  let converted: Record<string, unknown> | undefined;
  for (const column in row) {
    const value = row[column];
    if (typeof value === "bigint") {
      converted ??= { ...row };
      converted[column] = value.toString();
    } else if (Buffer.isBuffer(value)) {
      converted ??= { ...row };
      converted[column] = `\\x${value.toString("hex")}`;
    }
  }
  return converted ?? row;
}

// For the hot path's statements, written as SQL rather than through knex's
// query builder, which compiled each anew on every call (its toSQL was a
// twentieth of the server's JavaScript under load). Values are bound as the
// builder binds them; columns are the callers' own names, never input.

// `"column" = ?` for each column, joined by `and`, `is null` for a null
// value: knex's where({ … }).
export function columnsEqualSql(columns: Record<string, unknown>): Sql {
  const bindings: unknown[] = [];
  const conditions = Object.entries(columns).map(([column, value]) => {
    if (value === null) return `"${column}" is null`;
    bindings.push(value);
    return `"${column}" = ?`;
  });
  return { sql: conditions.join(" and "), bindings };
}

// `"column" in (?, …)`, never true for no values: knex's whereIn.
export function columnInSql(column: string, values: readonly unknown[]): Sql {
  return { sql: `"${column}" in (${values.map(() => "?").join(", ") || "null"})`, bindings: [...values] };
}

// `update "table" set "column" = ?, … where <where>`, a column whose value is
// undefined left out: knex's update({ … }).
export function updateSql(table: string, set: Record<string, unknown>, where: Sql): Sql {
  const columns = Object.entries(set).filter(([, value]) => value !== undefined);
  if (columns.length === 0) throw new Error(`an update of ${table} sets no column`);
  return {
    sql: `update "${table}" set ${columns.map(([column]) => `"${column}" = ?`).join(", ")} where ${where.sql}`,
    bindings: [...columns.map(([, value]) => value), ...where.bindings],
  };
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
  await runPrepared(
    knex,
    withParts(
      writes.map((write, i) => [`write_${i}`, write] as const),
      { sql: "select 1", bindings: [] },
    ),
  );
}

// Runs a statement of the hot path as a named prepared statement: Postgres
// parses it once per connection and, after a few runs, plans it once too,
// where an unnamed statement is parsed and planned on every run (for the big
// WITH statements, much of their cost). The name is the text's hash, so one
// name is always one text; node-postgres prepares it on each connection the
// first time that connection runs it (a reconnected pool prepares again);
// PGlite's thread does the same in its one session (pglite-worker.cjs). Only
// for statements whose text comes from a bounded set: each text stays
// prepared in every pooled connection for as long as it lives. A text's name
// and its `$n` form are made once and kept, and the values go to the driver
// as they are: hashing a big WITH's text on every run cost about as much as
// building it, and knex's two passes over it (each `?` bound, then numbered)
// were about 4 % of the main thread's work on a payment (bench/payments'
// profile), some 20 µs per big statement.
export async function runPrepared<Row>(knex: Knex, { sql, bindings }: Sql): Promise<{ rows: Row[] }> {
  let prepared = preparedTexts.get(sql);
  if (prepared === undefined) {
    prepared = preparedText(sql);
    preparedTexts.set(sql, prepared);
  }
  if (prepared.text === undefined) return (await knex.raw(sql, bindings as Knex.RawBinding[]).options({ name: prepared.name })) as { rows: Row[] };
  // What knex checks of the bindings it numbers itself.
  if (bindings.length !== prepared.parameters) throw new Error(`Expected ${prepared.parameters} bindings, saw ${bindings.length}: ${sql}`);
  for (const value of bindings) {
    if (value === undefined) throw new Error(`Undefined binding(s) detected when compiling a prepared statement: ${sql}`);
    // knex would write a query given as a value into the text; the driver cannot.
    if (typeof value === "object" && value !== null && typeof (value as { toSQL?: unknown }).toSQL === "function") {
      throw new Error(`a prepared statement's values may not be knex queries: ${sql}`);
    }
  }
  return (await knex.raw(prepared.text).options({ name: prepared.name, values: bindings })) as { rows: Row[] };
}

interface PreparedText {
  name: string;
  // With each `?` numbered as Postgres takes them ($1, $2, …); undefined
  // for a text that knex must write out with its bindings: one naming
  // identifiers (`??`) or holding a literal question mark (`\\?`).
  text?: string;
  parameters: number;
}

function preparedText(sql: string): PreparedText {
  const name = `onerouter_${createHash("sha1").update(sql).digest("hex")}`;
  if (sql.includes("??") || sql.includes("\\?")) return { name, parameters: 0 };
  let parameters = 0;
  return { name, text: sql.replace(/\?/g, () => `$${++parameters}`), parameters };
}

// As bounded as the set of texts given to runPrepared.
const preparedTexts = new Map<string, PreparedText>();
