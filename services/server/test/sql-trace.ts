import { AsyncLocalStorage } from "node:async_hooks";
import http from "node:http";
import type { Knex } from "@onerouter/core";

// The SQL a server sends while serving requests, as round trips and
// transactions, for tests and benchmarks that hold the hot path to a budget.

export interface SqlTrace {
  // The traced call's own latency, as the client saw it.
  callMs: number;
  // Statements sent, each a round trip (BEGIN and COMMIT included).
  statements: number;
  // Database transactions: explicit ones, and each statement sent outside one.
  transactions: number;
  // Summed from each statement's sending to its answer being handled.
  sqlMs: number;
  // "insert payments" → 1, in the order first seen.
  byKind: Map<string, number>;
}

// Statement kind and table, e.g. "insert payments", "select api_keys",
// "begin"; a WITH names each write it makes, e.g. "with: insert payments, update idempotency_keys".
export function statementKind(sql: string): string {
  const verb = sql.trim().split(/\s+/)[0]!.replace(/;$/, "").toLowerCase();
  if (verb === "with") {
    const writes = [...sql.matchAll(/\b(insert\s+into|update|delete\s+from)\s+"?([a-z_]+)"?/gi)].map(
      ([, write, table]) => `${write!.split(/\s+/)[0]!.toLowerCase()} ${table}`,
    );
    if (writes.length > 0) return `with: ${writes.join(", ")}`;
  }
  const table = /\b(?:from|into|update)\s+"([^"]+)"/i.exec(sql)?.[1];
  return table ? `${verb} ${table}` : verb;
}

// Marks what a server in this process does while serving a request, so a
// trace counts the traced call's statements and not those of background
// workers (pollers, dispatchers) that run at the same time.
const serving = new AsyncLocalStorage<true>();
let marking = false;
function markServing(): void {
  if (marking) return;
  marking = true;
  const emitOfServers = http.Server.prototype.emit as (this: http.Server, event: string | symbol, ...args: unknown[]) => boolean;
  http.Server.prototype.emit = function (this: http.Server, event: string | symbol, ...args: unknown[]) {
    const emit = () => emitOfServers.apply(this, [event, ...args]);
    return event === "request" ? serving.run(true, emit) : emit();
  } as typeof http.Server.prototype.emit;
}

// Runs `call` (which answers its latency in ms) with every SQL statement
// that `knex` sends for a request recorded. Sequential calls keep other
// requests out. Servers started before the first trace are marked too: the
// mark is on every HTTP server's request event.
export async function traceRequestSql(knex: Knex, call: () => Promise<number>): Promise<SqlTrace> {
  markServing();
  const trace: SqlTrace = { callMs: 0, statements: 0, transactions: 0, sqlMs: 0, byKind: new Map() };
  const started = new Map<string, number>();
  const onQuery = (q: { sql: string; __knexQueryUid: string; __knexTxId?: string }) => {
    if (!serving.getStore()) return;
    started.set(q.__knexQueryUid, performance.now());
    const kind = statementKind(q.sql);
    trace.statements += 1;
    // Knex tags a transaction's statements (its BEGIN included) with its id.
    if (kind === "begin" || !q.__knexTxId) trace.transactions += 1;
    trace.byKind.set(kind, (trace.byKind.get(kind) ?? 0) + 1);
  };
  const onDone = (_: unknown, q: { __knexQueryUid: string }) => {
    const t = started.get(q.__knexQueryUid);
    if (t !== undefined) trace.sqlMs += performance.now() - t;
  };
  knex.on("query", onQuery);
  knex.on("query-response", onDone);
  knex.on("query-error", onDone);
  try {
    trace.callMs = await call();
  } finally {
    knex.off("query", onQuery);
    knex.off("query-response", onDone);
    knex.off("query-error", onDone);
  }
  return trace;
}
