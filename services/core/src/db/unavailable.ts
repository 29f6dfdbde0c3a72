// Whether an error means the database could not be reached (down, restarting,
// the connection cut) rather than that a query was wrong: such a call may
// succeed when retried, so callers get UNAVAILABLE instead of INTERNAL.

// Socket errors of the connection to the server.
const socketErrors = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

// SQLSTATEs of a server going away or not taking connections yet:
// admin_shutdown, crash_shutdown, cannot_connect_now.
const shutdownStates = new Set(["57P01", "57P02", "57P03"]);

// What pg says when it loses a connection it had.
const lostConnection = [
  "Connection terminated unexpectedly",
  "Connection terminated due to connection timeout",
  "Client has encountered a connection error and is not queryable",
  "Client was closed and is not queryable",
];

export function isDatabaseUnavailable(err: unknown): boolean {
  for (let current = err, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") {
      if (socketErrors.has(code) || shutdownStates.has(code)) return true;
      // Class 08: connection exception.
      if (/^08[0-9A-Z]{3}$/.test(code)) return true;
    }
    // knex found no connection in time; pg lost the one it had (knex puts
    // the query in front of pg's message).
    if (current.name === "KnexTimeoutError") return true;
    if (lostConnection.some((text) => current.message.includes(text))) return true;
  }
  return false;
}
