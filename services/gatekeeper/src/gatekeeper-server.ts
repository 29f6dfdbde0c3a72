import { createErrorInterceptor, createMetrics, startServer, type Knex, type Metrics, type Room, type RoomModule, type RunningServer } from "@onerouter/core";
import { DescribedCallers, envoyFrontRoutes } from "./envoy-front";
import { gatekeeperMigrations } from "./migrations";
import { openGatekeeper, type GatekeeperRoomDeps } from "./room";
import { rateBucketRetention, SharedRateStore } from "./shared-rate-store";

export interface GatekeeperEnvoyDeps extends GatekeeperRoomDeps {
  // What every allowed call carries to the services (ONEROUTER_MESH_SECRET).
  meshSecret: string;
  // Where the replicas' shared rate buckets are: `knex`'s database unless given.
  limiterKnex?: Knex;
}

// The gatekeeper's Envoy-facing services (ext_authz Check and the
// rate-limit service) as a room a server hosts; its own calls pass no
// gatekeeper. Ready while both its database and the limiter's store answer.
// Its replicas share their buckets (rates and failed authentications) and
// each prunes the stale ones.
export const gatekeeperEnvoyRoom: RoomModule<GatekeeperEnvoyDeps, Room & { readiness(): Promise<void> }> = {
  name: "gatekeeper",
  migrations: gatekeeperMigrations,
  open(deps) {
    const limiterKnex = deps.limiterKnex ?? deps.knex;
    const gatekeeper = openGatekeeper(deps, new SharedRateStore(limiterKnex));
    const retention = rateBucketRetention(limiterKnex, deps.logger);
    const routes = envoyFrontRoutes({
      gatekeeper: gatekeeper.deps,
      callers: new DescribedCallers(deps.knex),
      meshSecret: deps.meshSecret,
    });
    return {
      routes,
      start() {
        gatekeeper.start();
        retention.start();
      },
      async close() {
        await retention.stop();
        await gatekeeper.close();
      },
      async readiness() {
        await Promise.all([deps.knex.raw("select 1"), limiterKnex.raw("select 1")]);
      },
    };
  },
};

export interface GatekeeperServerOptions extends GatekeeperEnvoyDeps {
  // The config's host and port unless given (0: any free port).
  port?: number;
  host?: string;
  metrics?: Metrics;
}

// The gatekeeper as its own process behind Envoy: Check, ShouldRateLimit,
// grpc.health.v1 (with both services' names), /healthz, /readyz and
// /metrics on one port.
export async function startGatekeeperServer(options: GatekeeperServerOptions): Promise<RunningServer> {
  const { config, logger } = options;
  const metrics = options.metrics ?? createMetrics();
  // Refusals by the limits are counted on this server's /metrics.
  const room = await gatekeeperEnvoyRoom.open({ registry: metrics.registry, ...options });
  const server = await startServer({
    host: options.host ?? config.host,
    port: options.port ?? config.port,
    logger,
    metrics,
    routes: room.routes!,
    interceptors: [createErrorInterceptor(logger)],
    maxRequestBytes: config.maxRequestBytes,
    readiness: room.readiness,
    shutdownGraceMs: config.shutdownGraceMs,
    trustedProxyCidrs: config.trustedProxyCidrs,
  });
  await room.start?.();
  return {
    ...server,
    async close() {
      await server.close();
      await room.close?.();
    },
  };
}
