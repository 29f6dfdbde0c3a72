import type { TenantMailer } from "@onerouter/admin";
import { Poller, type ChangeNotices, type Config, type Knex, type Logger, type RoomModule } from "@onerouter/core";
import type { Registry } from "prom-client";
import { ApiKeyAuthenticator } from "./authenticator";
import { CallLimits } from "./call-limits";
import { gatekeeperInterceptors, type GatekeeperDeps } from "./interceptor";
import { gatekeeperMigrations } from "./migrations";
import { TokenBucketLimiter, type Rate } from "./rate-limiter";
import { RecentSet } from "./recent-set";
import { SessionAuthenticator } from "./session-authenticator";
import type { SharedRateStore } from "./shared-rate-store";

export interface GatekeeperRoomDeps {
  knex: Knex;
  config: Config;
  logger: Logger;
  // OneRouter's own email, for usage notices to owners; without it (no
  // messaging room reachable) notices are only events.
  mailer?: TenantMailer;
  // Where refusals by the call limits are counted, when given.
  registry?: Registry;
  // Tell it of changed keys and tenants, so that it may keep keys in memory.
  notices?: ChangeNotices;
}

// How often usage counts are written and the other processes' learned.
const usageFlushMs = 1000;

// How many failed authentications a client address may have.
export function failureRate(config: Config): Rate {
  return { ratePerSecond: config.authFailures.perMinute / 60, burst: config.authFailures.burst };
}

// The gatekeeper's parts as config sets them up, for either front, with its
// rates' and failed authentications' buckets in `shared` (this process's
// when absent), and the flusher of its usage counts.
export function openGatekeeper({ knex, config, logger, mailer, registry, notices }: GatekeeperRoomDeps, shared?: SharedRateStore) {
  const { unknownKeyCacheMs, unknownKeyCacheSize } = config.authFailures;
  const server = { ratePerSecond: config.rateLimit.requestsPerSecond, burst: config.rateLimit.burst };
  const limits = new CallLimits({ knex, server, rates: shared, mailer, logger, registry });
  const failures = failureRate(config);
  const deps: GatekeeperDeps = {
    authenticator: new ApiKeyAuthenticator(knex, { ttlMs: unknownKeyCacheMs, maxSize: unknownKeyCacheSize }, notices),
    sessions: new SessionAuthenticator(knex, new RecentSet(unknownKeyCacheMs, unknownKeyCacheSize)),
    limits,
    failures: shared ? shared.failureCounter(failures) : new TokenBucketLimiter(failures.ratePerSecond, failures.burst),
    // Where the console may call from besides this server's own origin.
    allowedOrigins: [...config.corsOrigins, ...(config.publicUrl ? [new URL(config.publicUrl).origin] : [])],
    logger,
  };
  const flusher = new Poller("usage counters", async () => {
    await limits.flush();
    return false;
  }, {
    intervalMs: usageFlushMs,
    errorBackoffMs: usageFlushMs,
    logger,
  });
  return {
    deps,
    start: () => flusher.start(),
    // Counts of calls answered until the server closed are written too.
    async close() {
      await flusher.stop();
      await limits.flush();
    },
  };
}

// Auth, rate limits and quotas in process: every RPC passes the
// gatekeeper's interceptor. (In the mesh, Envoy asks the gatekeeper instead.)
export const gatekeeperRoom: RoomModule<GatekeeperRoomDeps> = {
  name: "gatekeeper",
  migrations: gatekeeperMigrations,
  open(deps) {
    const gatekeeper = openGatekeeper(deps);
    return {
      interceptors: gatekeeperInterceptors(gatekeeper.deps),
      start: gatekeeper.start,
      close: gatekeeper.close,
    };
  },
};
