import { randomUUID } from "node:crypto";
import { Code, ConnectError, createContextKey, type Interceptor } from "@connectrpc/connect";
import { ErrorInfoSchema } from "@onerouter/client/gen/google/rpc/error_details_pb";
import { pino, type Logger } from "pino";
import pretty from "pino-pretty";

export type { Logger };

// JSON lines for machines; on a terminal, lines a person reads (colours,
// local time, the fields after the message).
export function createLogger(level: string, name = "onerouter", options: { pretty?: boolean } = {}): Logger {
  const settings = {
    name,
    level,
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ["req.headers.authorization", "*.secret", "*.credentials"], censor: "[redacted]" },
  };
  if (!(options.pretty ?? process.stdout.isTTY === true)) return pino(settings);
  return pino(settings, pretty({ sync: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname,service,name", singleLine: true }));
}

// What the access log says of one request: one line at info (health checks
// and metrics scrapes at debug), never a header, query or body.
export interface AccessEntry {
  method: string;
  path: string;
  // HTTP status of the answer.
  status: number;
  // For RPCs: the service's method, and its error code and reason when it failed.
  rpc?: string;
  code?: string;
  reason?: string;
  durationMs: number;
  requestId: string;
}

const probePaths = new Set(["/healthz", "/readyz", "/metrics"]);

export function logAccess(logger: Logger, entry: AccessEntry): void {
  const what = entry.rpc ?? `${entry.method} ${entry.path}`;
  const outcome = entry.code ? `${entry.code}${entry.reason ? ` ${entry.reason}` : ""}` : String(entry.status);
  const line = `${what} → ${outcome} in ${entry.durationMs} ms`;
  if (probePaths.has(entry.path)) logger.debug(entry, line);
  else logger.info(entry, line);
}

// Where the RPC layer notes, for the access log, which method a request
// called and how it failed.
export type RpcOutcome = Pick<AccessEntry, "rpc" | "code" | "reason">;
export const rpcOutcomeKey = createContextKey<RpcOutcome | undefined>(undefined, { description: "the access log's RPC outcome" });

export const accessLogInterceptor: Interceptor = (next) => async (req) => {
  const outcome = req.contextValues.get(rpcOutcomeKey);
  if (outcome) outcome.rpc = `${req.service.typeName}/${req.method.name}`;
  try {
    return await next(req);
  } catch (err) {
    if (outcome) {
      const error = ConnectError.from(err);
      outcome.code = Code[error.code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
      outcome.reason = error.findDetails(ErrorInfoSchema)[0]?.reason;
    }
    throw err;
  }
};

// The caller's X-Request-Id when it is a plain token, else a new one.
export function requestIdOf(header: string | string[] | undefined): string {
  return typeof header === "string" && /^[\w.:-]{1,128}$/.test(header) ? header : `req_${randomUUID()}`;
}
