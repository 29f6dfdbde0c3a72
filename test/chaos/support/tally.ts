// Counting what the chaos suites find, in the words RELIABILITY.md shows.

// The keys whose count is above `limit`, as "key (n)" for a readable failure.
export function countsAbove(keys: readonly string[], count: (key: string) => number, limit: number): string[] {
  return keys.filter((key) => count(key) > limit).map((key) => `${key} (${count(key)})`);
}

export function describeCounts(found: readonly unknown[], noun: string): string {
  return `${found.length} ${noun}${found.length === 1 ? "" : "s"}`;
}
