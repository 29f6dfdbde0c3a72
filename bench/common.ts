import { readFileSync } from "node:fs";

// What both benchmarks need: their env knobs, /proc readings and the
// statistics and number formats of their reports.

export function wholeNumber(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number ≥ ${min} (got "${raw}")`);
  return value;
}

// A comma-separated list of whole numbers from `min` to `max`.
export function wholeNumberList(name: string, fallback: string, min: number, max: number): number[] {
  const raw = process.env[name] ?? fallback;
  const values = raw.split(",").map((s) => Number(s.trim()));
  if (values.some((n) => !Number.isInteger(n) || n < min || n > max)) {
    throw new Error(`${name} must be comma-separated whole numbers from ${min} to ${max} (got "${raw}")`);
  }
  return values;
}

// Fields of /proc/<pid>/stat from the third (state) on — the second, the
// command name in parentheses, may itself hold spaces; undefined when the
// process is gone or there is no /proc.
export function procStat(pid: string): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

// Nearest-rank percentile of ascending values.
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const ascending = (values: readonly number[]) => [...values].sort((a, b) => a - b);
export const median = (values: readonly number[]) => percentile(ascending(values), 50);
export const ms = (v: number) => (Number.isNaN(v) ? "–" : v.toFixed(v < 10 ? 2 : 1));
export const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
