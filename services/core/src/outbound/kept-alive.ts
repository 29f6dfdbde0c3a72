import type http from "node:http";
import { ForbiddenDestinationError, GuardedHttpAgent, GuardedHttpsAgent, type GuardedAgents, type GuardOptions } from "./guarded-agents";

// Connections kept alive between requests to one origin, and what a failure
// on one proves. A server closes a kept connection it finds idle; when that
// crosses a request being written to it, the request fails before any answer
// on a reused socket: the server most likely never read it, so it is sent
// once more on a fresh connection. The same failure on a fresh connection
// means the request was on the wire and stays ambiguous; it is not resent.

// Below Node's and most servers' idle timeout (5 s), so a kept connection is
// rarely reused just as the server closes it.
export const idleConnectionMs = 4000;

// An agent keeping connections alive: bounded per origin, idle ones closed
// after idleConnectionMs, the most recently used reused first so the rest age out.
export const keptAliveAgentOptions = {
  keepAlive: true,
  timeout: idleConnectionMs,
  scheduling: "lifo",
  maxSockets: 256,
  maxFreeSockets: 32,
} satisfies http.AgentOptions;

// Whether `request` failed because the kept connection it reused closed
// before an answer came (Node reports a close after the answer's headers on
// the response, not the request).
export function closedOnReuse(request: http.ClientRequest, err: NodeJS.ErrnoException): boolean {
  return request.reusedSocket && (err.code === "ECONNRESET" || err.code === "EPIPE");
}

// The errors of watched requests (watchForClosedOnReuse) that closedOnReuse holds for.
const closedOnReuseErrors = new WeakSet<object>();

// Marks `request`'s failure, when closedOnReuse holds for it, as one that
// failedOnReusedConnection tells (and so sendResendingOnClosedReuse resends).
export function watchForClosedOnReuse(request: http.ClientRequest): void {
  request.on("error", (err: NodeJS.ErrnoException) => {
    if (closedOnReuse(request, err)) closedOnReuseErrors.add(err);
  });
}

// Whether an HTTP client's error, or one it wraps as its cause, is such a failure.
export function failedOnReusedConnection(err: unknown): boolean {
  let current = err;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth += 1) {
    if (closedOnReuseErrors.has(current)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

// A pool of connections kept alive under one set of SSRF rules. A connection
// is vetted when it is made and pinned to the address vetted, so a pooled
// one never goes where the rules would not let a new one go.
export interface KeptAliveAgents {
  // Agents for one call that share the pool's connections; a connection
  // refused for this call is told to onRefused.
  forCall(onRefused?: (reason: string) => void): GuardedAgents;
}

export function keptAliveAgents(guard: Omit<GuardOptions, "onRefused">): KeptAliveAgents {
  const pool = { http: new GuardedHttpAgent(guard, keptAliveAgentOptions), https: new GuardedHttpsAgent(guard, keptAliveAgentOptions) };
  return { forCall: (onRefused) => ({ http: callView(pool.http, onRefused), https: callView(pool.https, onRefused) }) };
}

interface RequestQueue {
  addRequest(request: http.ClientRequest, options: unknown): void;
}

// The pool's agent in every respect (its sockets, options, protocol) but
// where its requests' failures are told. Node hands every request to its
// agent's addRequest, before the caller listens for the request's errors.
function callView<A extends http.Agent>(pool: A, onRefused: ((reason: string) => void) | undefined): A {
  const view = Object.create(pool) as A & RequestQueue;
  view.addRequest = (request, options) => {
    watchForClosedOnReuse(request);
    request.on("error", (err) => {
      if (err instanceof ForbiddenDestinationError) onRefused?.(err.message);
    });
    (pool as unknown as RequestQueue).addRequest(request, options);
  };
  return view;
}

// Sends a request through kept-alive agents and, when the connection it
// reused closed before any answer, once more through agents that make a
// fresh one. The server most likely never read the first, but cannot be
// shown not to have: when the second send gets no answer either (even a
// refused connection), the call fails with `unanswered(first failure)`, as
// a request that may have been read, never as one provably not sent, so a
// payment is not failed over to another provider that could charge it too.
// Any other failure is the caller's.
export async function sendResendingOnClosedReuse<T>(
  agents: { keptAlive: GuardedAgents; fresh: GuardedAgents },
  send: (agents: GuardedAgents) => Promise<T>,
  unanswered: (firstFailure: unknown) => unknown = (first) => first,
): Promise<T> {
  let first: unknown;
  try {
    return await send(agents.keptAlive);
  } catch (err) {
    if (!failedOnReusedConnection(err)) throw err;
    first = err;
  }
  try {
    return await send(agents.fresh);
  } catch {
    throw unanswered(first);
  }
}
