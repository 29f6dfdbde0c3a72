import type { Knex } from "knex";

// Rollups: per-hour sums of a table's rows kept by the database itself, in
// the transaction that writes the rows, so analytics read a few rows per
// hour instead of scanning millions. A trigger adds each inserted row to the
// sums under its key and, when an update changes the key or a summed value,
// moves it from the old key to the new one.
//
// A striped rollup spreads each key over `rollupStripes` rows, chosen by a
// hash of the source row's id: concurrent transactions adding to one key
// (one tenant's payments in one hour) mostly lock different rows instead of
// queueing behind one until commit. Each stripe is a partial sum, so readers
// always sum over the stripes of a key.

export interface RollupDefinition {
  // The table whose rows are summed; the rollup table is created by the caller.
  source: string;
  rollup: string;
  // Column of the rollup table → SQL expression over the source row `{r}`.
  keys: Record<string, string>;
  sums: Record<string, string>;
  // SQL condition over `{r}`: rows that do not match are left out.
  where?: string;
  // SQL expression over `{r}` that picks the row's stripe (its id); the
  // rollup table then has a `stripe` key column. It must not change when the
  // row is updated, so a move subtracts from the stripe it added to.
  stripe?: string;
}

export const rollupStripes = 16;

// The stripe, 0 to rollupStripes - 1, of a value (the bitwise and keeps the
// hash's sign out without abs, which overflows on the smallest integer).
export function rollupStripeSql(value: string): string {
  return `(hashtext((${value})::text) & ${rollupStripes - 1})`;
}

// The key columns and their expressions, with the stripe when there is one.
function keysOf(definition: RollupDefinition): Record<string, string> {
  return definition.stripe === undefined ? definition.keys : { ...definition.keys, stripe: rollupStripeSql(definition.stripe) };
}

// The UTC hour a timestamp falls in.
export function utcHourSql(column: string): string {
  return `(date_trunc('hour', ${column} at time zone 'UTC') at time zone 'UTC')`;
}

function over(expression: string, row: string): string {
  return expression.replaceAll("{r}", row);
}

// Creates the trigger that keeps `rollup` up to date with `source`.
export async function createRollupTrigger(knex: Knex, definition: RollupDefinition): Promise<void> {
  const { source, rollup, sums } = definition;
  const keys = keysOf(definition);
  const keyColumns = Object.keys(keys);
  const sumColumns = Object.keys(sums);
  const where = definition.where ?? "true";
  const keyOf = (row: string) => Object.values(keys).map((e) => over(e, row));
  const valuesOf = (row: string) => [...keyOf(row), ...Object.values(sums).map((e) => over(e, row))];
  // Adds a row's sums, times `sign`, to its key's rollup row: an update,
  // and an insert only for a key's first row. Written out in the trigger
  // itself, because calling a function with the whole row cost more than the
  // statements; an upsert alone evaluates its insert's values even when the
  // row is there.
  const apply = (row: string, sign: string) => `
      if ${over(where, row)} then
        update ${rollup} as t set ${sumColumns.map((c) => `${c} = t.${c} + ${sign} * (${over(sums[c]!, row)})`).join(", ")}
         where (${keyColumns.join(", ")}) = (${keyOf(row).join(", ")});
        if not found then
          insert into ${rollup} as t (${[...keyColumns, ...sumColumns].join(", ")})
          values (${[...keyOf(row), ...sumColumns.map((c) => `${sign} * (${over(sums[c]!, row)})`)].join(", ")})
          on conflict (${keyColumns.join(", ")}) do update set ${sumColumns.map((c) => `${c} = t.${c} + excluded.${c}`).join(", ")};
        end if;
      end if;`;
  await knex.raw(`
    create or replace function ${rollup}_track() returns trigger language plpgsql as $fn$
    begin
      if tg_op = 'INSERT' then
        ${apply("new", "1")}
        return null;
      end if;
      if row(${valuesOf("old").join(", ")}, ${over(where, "old")}) is not distinct from row(${valuesOf("new").join(", ")}, ${over(where, "new")}) then
        return null;
      end if;
      -- The two rollup rows are locked in one order, so two concurrent
      -- moves in opposite directions cannot deadlock.
      if row(${keyOf("old").map((e) => `(${e})::text`).join(", ")}) <= row(${keyOf("new").map((e) => `(${e})::text`).join(", ")}) then
        ${apply("old", "-1")}
        ${apply("new", "1")}
      else
        ${apply("new", "1")}
        ${apply("old", "-1")}
      end if;
      return null;
    end $fn$`);
  // What earlier versions of the trigger called.
  await knex.raw(`drop function if exists ${rollup}_apply(${source}, integer)`);
  await knex.raw(`drop trigger if exists ${rollup}_track on ${source}`);
  await knex.raw(`create trigger ${rollup}_track after insert or update on ${source} for each row execute function ${rollup}_track()`);
}

// Gives an existing rollup table its stripe key column. The rows it has stay
// in stripe 0, which is still a partial sum of their key.
export async function addRollupStripe(knex: Knex, table: string, keyColumns: readonly string[]): Promise<void> {
  await knex.schema.alterTable(table, (t) => {
    t.smallint("stripe").notNullable().defaultTo(0);
    t.dropPrimary();
    t.primary([...keyColumns, "stripe"]);
  });
}

// Recomputes the rollup from every source row, set-based: for tables that
// had rows before their rollup existed, or were loaded with triggers off.
export async function rebuildRollup(knex: Knex, definition: RollupDefinition): Promise<void> {
  const { source, rollup, sums } = definition;
  const keys = keysOf(definition);
  const keyExpressions = Object.values(keys).map((e) => over(e, source));
  await knex.raw(`delete from ${rollup}`);
  await knex.raw(`
    insert into ${rollup} (${[...Object.keys(keys), ...Object.keys(sums)].join(", ")})
    select ${[...keyExpressions, ...Object.values(sums).map((e) => `sum(${over(e, source)})`)].join(", ")}
    from ${source}
    where ${over(definition.where ?? "true", source)}
    group by ${keyExpressions.map((_, i) => i + 1).join(", ")}`);
}

// Latency as a histogram that merges by adding: bucket i (1-based) holds
// latencies l with 1.2^(i-1) ≤ l + 1 < 1.2^i, so a percentile read from the
// buckets is within 10 % of the true one; the last bucket takes the rest
// (above about 43 minutes).
export const latencyBucketCount = 64;
const latencyBucketGrowth = 1.2;

export function latencyBucketSql(latencyMs: string): string {
  return `least(${latencyBucketCount}, floor(ln(greatest(${latencyMs}, 0) + 1) / ln(${latencyBucketGrowth}))::integer + 1)`;
}

export function latencyBucketOf(latencyMs: number): number {
  return Math.min(latencyBucketCount, Math.floor(Math.log(Math.max(latencyMs, 0) + 1) / Math.log(latencyBucketGrowth)) + 1);
}

// The latency in ms at percentile `p` (0–1) of the histogram: the geometric
// middle of the bucket it falls in. Undefined when the histogram is empty.
export function latencyPercentile(buckets: readonly number[], p: number): number | undefined {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return undefined;
  const rank = Math.max(1, Math.ceil(p * total));
  let seen = 0;
  for (const [i, count] of buckets.entries()) {
    seen += count;
    if (seen >= rank) return Math.max(0, latencyBucketGrowth ** (i + 0.5) - 1);
  }
  return undefined;
}

// Buckets added up, for merging hours.
export function addLatencyBuckets(into: number[], buckets: readonly (number | string)[]): number[] {
  for (const [i, count] of buckets.entries()) into[i] = (into[i] ?? 0) + Number(count);
  return into;
}
