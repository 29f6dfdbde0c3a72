import type { Knex, Logger } from "@onerouter/core";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

// Webhook delivery as Prometheus sees it: each attempt (outcome and how long
// the endpoint took), and the deliveries due per endpoint, read from the
// database at each scrape so every dispatcher replica reports the same.
export class DeliveryMetrics {
  private readonly attempts: Counter<"outcome">;
  private readonly duration: Histogram;

  constructor(registry: Registry, knex: Knex, logger: Logger) {
    this.attempts = new Counter({
      name: "onerouter_webhook_delivery_attempts_total",
      help: "Webhook delivery attempts, delivered or failed",
      labelNames: ["outcome"] as const,
      registers: [registry],
    });
    this.duration = new Histogram({
      name: "onerouter_webhook_delivery_duration_seconds",
      help: "Time for an endpoint to answer a delivery attempt (or for the attempt to fail)",
      labelNames: [] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    new Gauge({
      name: "onerouter_webhook_delivery_backlog",
      help: "Deliveries due and not yet delivered, per endpoint",
      labelNames: ["endpoint_id"] as const,
      registers: [registry],
      async collect() {
        try {
          const rows = await knex("webhook_deliveries")
            .where("status", "pending")
            .where("next_attempt_at", "<=", knex.fn.now())
            .groupBy("endpoint_id")
            .select<{ endpoint_id: string; due: string | number }[]>("endpoint_id", knex.raw("count(*) as due"));
          // Endpoints with nothing due drop out rather than linger at their last count.
          this.reset();
          for (const row of rows) this.labels(row.endpoint_id).set(Number(row.due));
        } catch (err) {
          logger.warn({ err }, "reading the webhook delivery backlog for /metrics failed");
        }
      },
    });
  }

  attempt(delivered: boolean, latencyMs: number): void {
    this.attempts.labels(delivered ? "delivered" : "failed").inc();
    this.duration.observe(latencyMs / 1000);
  }
}
