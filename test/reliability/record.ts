import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

// The reliability suites (fuzz, chaos, ...) each record what they tried and
// what they found; RELIABILITY.md at the repository root is rendered from
// every suite's latest figures, so the document always shows measured numbers.

export interface ReliabilityRow {
  // What was tried, e.g. "kill -9 during CreatePayment, then retry".
  check: string;
  // How much of it: requests sent, crashes, events...
  tried: number | string;
  // What must hold, e.g. "0 double charges".
  expected: string;
  // What was measured, in the same terms as `expected`.
  found: string;
  // Whether `found` meets `expected`.
  ok: boolean;
}

export interface ReliabilityReport {
  suite: string;
  // The test file that produced it.
  source: string;
  rows: ReliabilityRow[];
  durationMs: number;
  recordedAt: string;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const resultsDir = path.join(here, "results");
const documentPath = path.resolve(here, "../../RELIABILITY.md");

export function recordReliability(report: Omit<ReliabilityReport, "recordedAt">): void {
  mkdirSync(resultsDir, { recursive: true });
  const full: ReliabilityReport = { ...report, recordedAt: new Date().toISOString() };
  writeFileSync(path.join(resultsDir, `${report.suite}.json`), `${JSON.stringify(full, null, 2)}\n`);
  writeFileSync(documentPath, renderReliability(readReports()));
}

export function readReports(): ReliabilityReport[] {
  let files: string[];
  try {
    files = readdirSync(resultsDir).filter((f) => f.endsWith(".json"));
  } catch {
    return [];
  }
  return files
    .sort()
    .map((f) => JSON.parse(readFileSync(path.join(resultsDir, f), "utf8")) as ReliabilityReport);
}

export function renderReliability(reports: readonly ReliabilityReport[]): string {
  const lines = [
    "# Reliability",
    "",
    "What the fuzz and chaos suites in `npm test` try against OneRouter and what they found, as measured on",
    "their latest run (rendered from `test/reliability/results/` by the suites themselves; do not edit by hand).",
    "",
    "| suite | check | tried | expected | found | holds |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const report of reports) {
    for (const row of report.rows) {
      lines.push(`| ${cell(report.suite)} | ${cell(row.check)} | ${cell(String(row.tried))} | ${cell(row.expected)} | ${cell(row.found)} | ${row.ok ? "yes" : "**no**"} |`);
    }
  }
  lines.push("", "| suite | source | duration | recorded |", "| --- | --- | --- | --- |");
  for (const report of reports) {
    lines.push(`| ${cell(report.suite)} | \`${report.source}\` | ${(report.durationMs / 1000).toFixed(1)} s | ${report.recordedAt} |`);
  }
  return `${lines.join("\n")}\n`;
}

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}
