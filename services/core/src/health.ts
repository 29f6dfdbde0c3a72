import { create } from "@bufbuild/protobuf";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import {
  Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthListResponseSchema,
} from "@onerouter/client/gen/health/v1/health_pb";
import { apiError } from "./errors";

export interface HealthOptions {
  isDraining(): boolean;
  // Names served besides the router's services, e.g. a worker's.
  names?: readonly string[];
  // Throws while the server's dependencies are not usable.
  readiness?(): Promise<void>;
}

// grpc.health.v1 for every service on the router: "" is the server as a
// whole, SERVING while it runs (liveness); a named service is SERVING while
// the server is also ready (readiness). A service the server does not have
// is NOT_FOUND (Check) or SERVICE_UNKNOWN (Watch), as the health protocol asks.
export function registerHealth(router: ConnectRouter, options: HealthOptions): void {
  const served = () => new Set(["", ...router.handlers.map((h) => h.service.typeName), ...(options.names ?? [])]);
  const status = async (service: string) => {
    if (options.isDraining()) return ServingStatus.NOT_SERVING;
    if (service === "" || !options.readiness) return ServingStatus.SERVING;
    return options.readiness().then(
      () => ServingStatus.SERVING,
      () => ServingStatus.NOT_SERVING,
    );
  };
  router.service(Health, {
    async check(req) {
      if (!served().has(req.service)) {
        throw apiError(Code.NotFound, "SERVICE_NOT_FOUND", `no service ${req.service.slice(0, 200)} on this server`, {
          service: req.service.slice(0, 200),
        });
      }
      return create(HealthCheckResponseSchema, { status: await status(req.service) });
    },
    async *watch(req, ctx) {
      const known = served().has(req.service);
      yield create(HealthCheckResponseSchema, { status: known ? await status(req.service) : ServingStatus.SERVICE_UNKNOWN });
      await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
    },
    async list() {
      const names = [...served()];
      const statuses = await Promise.all(names.map(async (name) => [name, create(HealthCheckResponseSchema, { status: await status(name) })]));
      return create(HealthListResponseSchema, { statuses: Object.fromEntries(statuses) });
    },
  });
}
