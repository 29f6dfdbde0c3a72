import { Code, type Interceptor } from "@connectrpc/connect";
import { ConnectError } from "@connectrpc/connect";
import type { Knex } from "knex";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Logger } from "./logging";
import { copyWith } from "./objects";

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
      requests.inc(copyWith(labels, { code: "ok" }));
      return res;
    } catch (err) {
      requests.inc(copyWith(labels, { code: Code[ConnectError.from(err).code] ?? "unknown" }));
      throw err;
    } finally {
      end();
    }
  };
  return { registry, rpcInterceptor };
}

// Which outbox column says an event has left: published_at once a relay put
// it on JetStream, fanned_out_at once embedded mode's feed made its deliveries.
export type OutboxProgress = "published_at" | "fanned_out_at";

// Exports onerouter_outbox_lag_seconds, read from the database at each
// scrape (one indexed row) so every process sharing the outbox agrees. A
// failed read keeps the last value and is logged.
export function exportOutboxLag(registry: Registry, knex: Knex, progress: OutboxProgress, logger: Logger): void {
  new Gauge({
    name: "onerouter_outbox_lag_seconds",
    help: "Age of the oldest committed event not yet published (fanned out in embedded mode); 0 when none waits",
    labelNames: [] as const,
    registers: [registry],
    async collect() {
      try {
        const { rows } = await knex.raw<{ rows: { lag: string | number | null }[] }>(
          `select extract(epoch from now() - min(created_at)) as lag from outbox_events where ${progress} is null`,
        );
        this.set(Math.max(0, Number(rows[0]?.lag ?? 0)));
      } catch (err) {
        logger.warn({ err }, "reading the outbox lag for /metrics failed");
      }
    },
  });
}
