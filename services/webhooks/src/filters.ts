import type { Knex } from "@onerouter/core";

// An endpoint's event-type filters as a condition on a query of
// webhook_events: none means every type; "refund.*" matches every type
// under "refund."; anything else matches exactly (as fan-out matches them).
export function whereEventTypeMatches(query: Knex.QueryBuilder, filters: readonly string[]): Knex.QueryBuilder {
  if (filters.length === 0) return query;
  return query.where((q) => {
    for (const filter of filters) {
      // A prefix as a pattern, so the type index's range serves it.
      if (filter.endsWith(".*")) q.orWhere("type", "like", `${filter.slice(0, -1).replace(/[\\%_]/g, "\\$&")}%`);
      else q.orWhere("type", filter);
    }
  });
}
