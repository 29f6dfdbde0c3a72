// An endpoint's event-type filters: empty means every type; "refund.*"
// matches every type under "refund."; anything else matches exactly.
export function matchesEventType(filters: readonly string[], type: string): boolean {
  if (filters.length === 0) return true;
  return filters.some((filter) =>
    filter.endsWith(".*") ? type.startsWith(filter.slice(0, -1)) : filter === type,
  );
}
