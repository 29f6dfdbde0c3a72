import type { Knex } from "knex";
import type { EnvironmentName } from "./provider-accounts";
import type { OutcomeCounts } from "./select";

// Queries every product's attempts table answers alike: an attempt row has
// an id, its parent's id, tenant_id, environment, provider_account_id,
// status and created_at.

// The attempts of each parent (payment, message, ...), oldest first; a
// parent without attempts gets an empty list.
export async function attemptsByParent<Row extends object>(
  knex: Knex,
  table: string,
  parentColumn: keyof Row & string,
  parentIds: readonly string[],
): Promise<Map<string, Row[]>> {
  const rows = (await knex(table)
    .whereIn(parentColumn, parentIds)
    .orderBy([{ column: "created_at" }, { column: "id" }])) as Row[];
  const byParent = new Map<string, Row[]>(parentIds.map((id) => [id, []]));
  for (const row of rows) byParent.get(row[parentColumn] as unknown as string)?.push(row);
  return byParent;
}

// How the finished attempts on each account went since `since`, for routing
// by success rate: PENDING and UNKNOWN attempts have no outcome yet and do
// not count.
export async function attemptOutcomes(
  knex: Knex,
  table: string,
  scope: { tenantId: string; environment: EnvironmentName },
  accountIds: readonly string[],
  since: Date,
  successStatuses: readonly string[],
): Promise<Map<string, OutcomeCounts>> {
  const rows = (await knex(table)
    .select("provider_account_id")
    .count({ attempts: "*" })
    .select(knex.raw(`count(*) filter (where status in (${successStatuses.map(() => "?").join(", ")})) as successes`, [...successStatuses]))
    .where({ tenant_id: scope.tenantId, environment: scope.environment })
    .whereIn("provider_account_id", accountIds)
    .whereNotIn("status", ["pending", "unknown"])
    .andWhere("created_at", ">=", since)
    .groupBy("provider_account_id")) as { provider_account_id: string; attempts: unknown; successes: unknown }[];
  return new Map(rows.map((r) => [r.provider_account_id, { attempts: Number(r.attempts), successes: Number(r.successes) }]));
}
