import { Code, type Interceptor } from "@connectrpc/connect";
import { ConnectError } from "@connectrpc/connect";
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface Metrics {
  registry: Registry;
  rpcInterceptor: Interceptor;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: "onerouter_rpc_requests_total",
    help: "RPCs handled, by service, method and Connect code",
    labelNames: ["service", "method", "code"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "onerouter_rpc_duration_seconds",
    help: "RPC handling time",
    labelNames: ["service", "method"] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const rpcInterceptor: Interceptor = (next) => async (req) => {
    const labels = { service: req.service.typeName, method: req.method.name };
    const end = duration.startTimer(labels);
    try {
      const res = await next(req);
      requests.inc({ ...labels, code: "ok" });
      return res;
    } catch (err) {
      requests.inc({ ...labels, code: Code[ConnectError.from(err).code] ?? "unknown" });
      throw err;
    } finally {
      end();
    }
  };
  return { registry, rpcInterceptor };
}
