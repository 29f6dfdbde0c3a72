import type { TenantMailer } from "@onerouter/admin";
import { Poller, type Config, type Knex, type Logger, type RoomModule } from "@onerouter/core";
import { ApiKeyAuthenticator } from "./authenticator";
import { CallLimits } from "./call-limits";
import { gatekeeperInterceptors } from "./interceptor";
import { gatekeeperMigrations } from "./migrations";
import { TokenBucketLimiter } from "./rate-limiter";

export interface GatekeeperRoomDeps {
  knex: Knex;
  config: Config;
  logger: Logger;
  // OneRouter's own email, for usage notices to owners; without it (no
  // messaging room reachable) notices are only events.
  mailer?: TenantMailer;
}

// How often usage counts are written and the other processes' learned.
const usageFlushMs = 1000;

// Auth, rate limits and quotas in process: every RPC passes the
// gatekeeper's interceptor. (In the mesh, Envoy asks the gatekeeper instead.)
export const gatekeeperRoom: RoomModule<GatekeeperRoomDeps> = {
  name: "gatekeeper",
  migrations: gatekeeperMigrations,
  open({ knex, config, logger, mailer }) {
    const authenticator = new ApiKeyAuthenticator(knex, {
      ttlMs: config.authFailures.unknownKeyCacheMs,
      maxSize: config.authFailures.unknownKeyCacheSize,
    });
    const server = new TokenBucketLimiter(config.rateLimit.requestsPerSecond, config.rateLimit.burst);
    const limits = new CallLimits({ knex, server, mailer, logger });
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
      interceptors: gatekeeperInterceptors({ authenticator, limits, failures, logger }),
      start: () => flusher.start(),
      // Counts of calls answered until the server closed are written too.
      async close() {
        await flusher.stop();
        await limits.flush();
      },
    };
  },
};
