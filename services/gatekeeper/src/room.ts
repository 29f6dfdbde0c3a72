import type { Config, Knex, RoomModule } from "@onerouter/core";
import { ApiKeyAuthenticator } from "./authenticator";
import { createGatekeeperInterceptor } from "./interceptor";
import { gatekeeperMigrations } from "./migrations";
import { TokenBucketLimiter } from "./rate-limiter";
import { RecentSet } from "./recent-set";
import { SessionAuthenticator } from "./session-authenticator";

export interface GatekeeperRoomDeps {
  knex: Knex;
  config: Config;
}

// Auth and rate limits in process: every RPC passes the gatekeeper's
// interceptor. (In the mesh, Envoy asks the gatekeeper instead.)
export const gatekeeperRoom: RoomModule<GatekeeperRoomDeps> = {
  name: "gatekeeper",
  migrations: gatekeeperMigrations,
  open({ knex, config }) {
    const { unknownKeyCacheMs, unknownKeyCacheSize } = config.authFailures;
    const authenticator = new ApiKeyAuthenticator(knex, { ttlMs: unknownKeyCacheMs, maxSize: unknownKeyCacheSize });
    const sessions = new SessionAuthenticator(knex, new RecentSet(unknownKeyCacheMs, unknownKeyCacheSize));
    // Where the console may call from besides this server's own origin.
    const allowedOrigins = [...config.corsOrigins, ...(config.publicUrl ? [new URL(config.publicUrl).origin] : [])];
    const limiter = new TokenBucketLimiter(config.rateLimit.requestsPerSecond, config.rateLimit.burst);
    const failures = new TokenBucketLimiter(config.authFailures.perMinute / 60, config.authFailures.burst);
    return { interceptors: [createGatekeeperInterceptor({ authenticator, sessions, limiter, failures, allowedOrigins })] };
  },
};
