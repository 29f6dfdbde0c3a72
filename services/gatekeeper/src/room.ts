import type { TenantMailer } from "@onerouter/admin";
import { Poller, type Config, type Knex, type Logger, type RoomModule } from "@onerouter/core";
import type { Registry } from "prom-client";
import { ApiKeyAuthenticator } from "./authenticator";
import { CallLimits } from "./call-limits";
import { gatekeeperInterceptors } from "./interceptor";
import { gatekeeperMigrations } from "./migrations";
import { TokenBucketLimiter } from "./rate-limiter";
import { RecentSet } from "./recent-set";
import { SessionAuthenticator } from "./session-authenticator";

export interface GatekeeperRoomDeps {
  knex: Knex;
  config: Config;
  logger: Logger;
  // OneRouter's own email, for usage notices to owners; without it (no
  // messaging room reachable) notices are only events.
  mailer?: TenantMailer;
  // Where refusals by the call limits are counted, when given.
  registry?: Registry;
}

// How often usage counts are written and the other processes' learned.
const usageFlushMs = 1000;

// Auth, rate limits and quotas in process: every RPC passes the
// gatekeeper's interceptor. (In the mesh, Envoy asks the gatekeeper instead.)
export const gatekeeperRoom: RoomModule<GatekeeperRoomDeps> = {
  name: "gatekeeper",
  migrations: gatekeeperMigrations,
  open({ knex, config, logger, mailer, registry }) {
    const { unknownKeyCacheMs, unknownKeyCacheSize } = config.authFailures;
    const authenticator = new ApiKeyAuthenticator(knex, { ttlMs: unknownKeyCacheMs, maxSize: unknownKeyCacheSize });
    const sessions = new SessionAuthenticator(knex, new RecentSet(unknownKeyCacheMs, unknownKeyCacheSize));
    // Where the console may call from besides this server's own origin.
    const allowedOrigins = [...config.corsOrigins, ...(config.publicUrl ? [new URL(config.publicUrl).origin] : [])];
    const server = new TokenBucketLimiter(config.rateLimit.requestsPerSecond, config.rateLimit.burst);
    const limits = new CallLimits({ knex, server, mailer, logger, registry });
    const failures = new TokenBucketLimiter(config.authFailures.perMinute / 60, config.authFailures.burst);
    const flusher = new Poller("usage counters", async () => {
      await limits.flush();
      return false;
    }, {
      intervalMs: usageFlushMs,
      errorBackoffMs: usageFlushMs,
      logger,
    });
    return {
      interceptors: gatekeeperInterceptors({ authenticator, sessions, limits, failures, allowedOrigins, logger }),
      start: () => flusher.start(),
      // Counts of calls answered until the server closed are written too.
      async close() {
        await flusher.stop();
        await limits.flush();
      },
    };
  },
};
