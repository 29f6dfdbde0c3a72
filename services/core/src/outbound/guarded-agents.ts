import http from "node:http";
import https from "node:https";
import type { Duplex } from "node:stream";
import { forbiddenDestination, parseIp, type Cidr } from "./addresses";
import { pinnedLookup, vetDestination } from "./destinations";

// HTTP agents that refuse to connect where the SSRF rules forbid, for SDKs
// and clients that take an agent. The check happens when the connection is
// made, after DNS resolution, and the socket goes to exactly the addresses
// checked; redirects an SDK follows through the same agent are checked too.
// guardedAgents give every request its own connection, so a reset means the
// request was on the wire; keptAliveAgents (kept-alive.ts) pool connections,
// each vetted when it was made and pinned to the address vetted.

// Thrown at connect time, before anything is sent.
export class ForbiddenDestinationError extends Error {
  readonly code = forbiddenDestinationCode;
  constructor(message: string) {
    super(message);
    this.name = "ForbiddenDestinationError";
  }
}

export const forbiddenDestinationCode = "ERR_FORBIDDEN_DESTINATION";

export interface GuardedAgents {
  http: http.Agent;
  https: https.Agent;
}

export interface GuardOptions {
  // Ranges that may be reached although private, loopback, link-local...
  allowList: readonly Cidr[];
  // Told why each refused connection was refused.
  onRefused?: (reason: string) => void;
  // Set: every connection is refused with this reason.
  refuseAll?: string;
}

type ConnectionOptions = http.ClientRequestArgs;
type Created = (err: Error | null, stream: Duplex) => void;

// The connection `connect` would make, once its host is vetted.
function guardedConnection(
  guard: GuardOptions,
  options: ConnectionOptions,
  callback: Created,
  connect: (options: ConnectionOptions) => Duplex | null | undefined,
): Duplex | null | undefined {
  const refuse = (reason: string) => {
    guard.onRefused?.(reason);
    // The agent reports it on the request, which has not been sent.
    callback(new ForbiddenDestinationError(reason), undefined as unknown as Duplex);
    return undefined;
  };
  if (guard.refuseAll !== undefined) return refuse(guard.refuseAll);
  const host = String(options.host ?? options.hostname ?? "localhost").replace(/^\[(.*)\]$/, "$1");
  // Node connects to an IP address without a lookup, so literals are checked here.
  if (parseIp(host)) {
    const forbidden = forbiddenDestination(host, guard.allowList);
    return forbidden === undefined ? connect(options) : refuse(`destination ${host} is ${forbidden}`);
  }
  return connect({
    ...options,
    lookup: (hostname, lookupOptions, done) => {
      vetDestination(hostname, guard.allowList).then(
        (vetted) => {
          if ("refused" in vetted) {
            guard.onRefused?.(vetted.refused);
            return done(new ForbiddenDestinationError(vetted.refused), []);
          }
          if (vetted.addresses.length === 0) {
            return done(Object.assign(new Error(`${hostname} resolves to no address`), { code: "ENOTFOUND" }), []);
          }
          pinnedLookup(vetted.addresses)(hostname, lookupOptions, done);
        },
        (err: NodeJS.ErrnoException) => done(err, []),
      );
    },
  });
}

export class GuardedHttpAgent extends http.Agent {
  constructor(
    private readonly guard: GuardOptions,
    options: http.AgentOptions = { keepAlive: false },
  ) {
    super(options);
  }

  override createConnection(options: ConnectionOptions, callback: Created) {
    return guardedConnection(this.guard, options, callback, (vetted) => super.createConnection(vetted, callback));
  }
}

export class GuardedHttpsAgent extends https.Agent {
  constructor(
    private readonly guard: GuardOptions,
    options: https.AgentOptions = { keepAlive: false },
  ) {
    super(options);
  }

  override createConnection(options: ConnectionOptions, callback: Created) {
    return guardedConnection(this.guard, options, callback, (vetted) => super.createConnection(vetted, callback));
  }
}

export function guardedAgents(guard: GuardOptions): GuardedAgents {
  return { http: new GuardedHttpAgent(guard), https: new GuardedHttpsAgent(guard) };
}
