import { create } from "@bufbuild/protobuf";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import {
  Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthListResponseSchema,
} from "@onerouter/client/gen/health/v1/health_pb";
import { apiError } from "./errors";

// grpc.health.v1 for every service on the router: "" is the server as a
// whole; a service the server does not have is NOT_FOUND (Check) or
// SERVICE_UNKNOWN (Watch), as the health protocol asks.
export function registerHealth(router: ConnectRouter, isDraining: () => boolean): void {
  const served = () => new Set(["", ...router.handlers.map((h) => h.service.typeName)]);
  const status = () => (isDraining() ? ServingStatus.NOT_SERVING : ServingStatus.SERVING);
  router.service(Health, {
    check(req) {
      if (!served().has(req.service)) {
        throw apiError(Code.NotFound, "SERVICE_NOT_FOUND", `no service ${req.service.slice(0, 200)} on this server`, {
          service: req.service.slice(0, 200),
        });
      }
      return create(HealthCheckResponseSchema, { status: status() });
    },
    async *watch(req, ctx) {
      const known = served().has(req.service);
      yield create(HealthCheckResponseSchema, { status: known ? status() : ServingStatus.SERVICE_UNKNOWN });
      await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
    },
    list() {
      const current = create(HealthCheckResponseSchema, { status: status() });
      return create(HealthListResponseSchema, { statuses: Object.fromEntries([...served()].map((name) => [name, current])) });
    },
  });
}
