import type { Config, Knex, RoomModule } from "@onerouter/core";
import { ApiKeyAuthenticator } from "./authenticator";
import { createGatekeeperInterceptor } from "./interceptor";
import { gatekeeperMigrations } from "./migrations";
import { TokenBucketLimiter } from "./rate-limiter";

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
    const authenticator = new ApiKeyAuthenticator(knex, {
      ttlMs: config.authFailures.unknownKeyCacheMs,
      maxSize: config.authFailures.unknownKeyCacheSize,
    });
    const limiter = new TokenBucketLimiter(config.rateLimit.requestsPerSecond, config.rateLimit.burst);
    const failures = new TokenBucketLimiter(config.authFailures.perMinute / 60, config.authFailures.burst);
    return { interceptors: [createGatekeeperInterceptor({ authenticator, limiter, failures })] };
  },
};
