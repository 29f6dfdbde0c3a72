import { Code } from "@connectrpc/connect";
import { recordReliability, type ReliabilityRow } from "../reliability/record";
import type { Outcome } from "./wire";

// What a fuzz suite saw, in the terms RELIABILITY.md reports: every request
// answered, no 5xx, no INTERNAL or UNKNOWN, every error typed.

export class Tally {
  requests = 0;
  errors = 0;
  typedErrors = 0;
  http5xx = 0;
  internal = 0;
  unanswered = 0;
  notImplemented = 0;
  // Answers that are typed but not what the protocol's convention says.
  misclassified = 0;
  readonly samples: string[] = [];

  constructor(readonly seed: number) {}

  add(label: string, outcome: Outcome | Error, expected?: { code: Code; reason?: string }): void {
    this.requests += 1;
    if (outcome instanceof Error) {
      this.unanswered += 1;
      return this.sample(`${label}: no answer (${outcome.message})`);
    }
    if (outcome.httpStatus === 501 && outcome.code === Code.Unimplemented && outcome.reason === "NOT_IMPLEMENTED") {
      // A method not built yet answers UNIMPLEMENTED, which Connect sends as 501.
      this.notImplemented += 1;
    } else if (outcome.httpStatus >= 500) {
      this.http5xx += 1;
      this.sample(`${label}: HTTP ${outcome.httpStatus} ${outcome.message ?? ""}`);
    }
    if (outcome.code === undefined) {
      if (expected) this.mismatch(label, "success", expected);
      return;
    }
    this.errors += 1;
    if (outcome.errorInfo) this.typedErrors += 1;
    else this.sample(`${label}: ${Code[outcome.code]} without ErrorInfo: ${outcome.message ?? ""}`);
    if (outcome.code === Code.Internal || outcome.code === Code.Unknown) {
      this.internal += 1;
      this.sample(`${label}: ${Code[outcome.code]}: ${outcome.message ?? ""}`);
    }
    if (expected && (outcome.code !== expected.code || (expected.reason && outcome.reason !== expected.reason))) {
      this.mismatch(label, `${Code[outcome.code]} ${outcome.reason ?? ""}`, expected);
    }
  }

  private mismatch(label: string, got: string, expected: { code: Code; reason?: string }) {
    this.misclassified += 1;
    this.sample(`${label}: expected ${Code[expected.code]} ${expected.reason ?? ""}, got ${got}`);
  }

  private sample(text: string) {
    if (this.samples.length < 40) this.samples.push(text.slice(0, 300));
  }

  rows(what: string, options: { classified?: boolean } = {}): ReliabilityRow[] {
    const percent = this.errors === 0 ? 100 : (100 * this.typedErrors) / this.errors;
    const rows: ReliabilityRow[] = [
      { check: `${what}: answered`, tried: this.requests, expected: "0 without an answer", found: `${this.unanswered} without an answer`, ok: this.unanswered === 0 },
      { check: `${what}: no server errors`, tried: this.requests, expected: "0 HTTP 5xx (besides UNIMPLEMENTED)", found: `${this.http5xx} HTTP 5xx`, ok: this.http5xx === 0 },
      { check: `${what}: no INTERNAL/UNKNOWN`, tried: this.requests, expected: "0 INTERNAL or UNKNOWN", found: `${this.internal} INTERNAL or UNKNOWN`, ok: this.internal === 0 },
      {
        check: `${what}: errors carry ErrorInfo`,
        tried: `${this.errors} errors`,
        expected: "100 % with ErrorInfo",
        found: `${percent.toFixed(1)} % (${this.errors - this.typedErrors} without)`,
        ok: this.typedErrors === this.errors,
      },
    ];
    if (this.notImplemented > 0) {
      rows.push({
        check: `${what}: methods not built yet`,
        tried: this.notImplemented,
        expected: "UNIMPLEMENTED (Connect's HTTP 501), reason NOT_IMPLEMENTED",
        found: `${this.notImplemented} UNIMPLEMENTED`,
        ok: true,
      });
    }
    if (options.classified) {
      rows.push({
        check: `${what}: code and reason as documented`,
        tried: this.requests,
        expected: "0 other answers",
        found: `${this.misclassified} other answers`,
        ok: this.misclassified === 0,
      });
    }
    return rows;
  }

  // Records the figures (before any assertion, so a failing run is on record too).
  record(suite: string, source: string, startedAt: number, rows: ReliabilityRow[]): void {
    recordReliability({ suite, source, rows, durationMs: Date.now() - startedAt });
  }
}

// Runs `tasks` with at most `limit` in flight.
export async function runAll(tasks: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const task = tasks[next++]!;
      await task();
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
}
