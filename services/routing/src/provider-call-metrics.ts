import { Counter, Histogram, type Registry } from "prom-client";
import type { ProviderCategory } from "./provider-accounts";

// What a provider call ended as, for metrics and spans: an answer that is a
// decline is "declined"; a failure is "unknown" when the provider may still
// have acted on it, else "failed".
export type ProviderCallOutcome = "success" | "declined" | "failed" | "unknown";

// The provider calls the routed-call loop makes, as Prometheus sees them.
export class ProviderCallMetrics {
  private readonly duration: Histogram<"provider" | "provider_account_id" | "operation" | "outcome">;
  private readonly failovers: Counter<"category" | "from_provider" | "to_provider">;

  constructor(registry: Registry) {
    this.duration = new Histogram({
      name: "onerouter_provider_call_duration_seconds",
      help: "Provider API calls by provider, account, connector operation and outcome",
      labelNames: ["provider", "provider_account_id", "operation", "outcome"] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    this.failovers = new Counter({
      name: "onerouter_provider_failovers_total",
      help: "Routed calls moved on to the next provider account after one provably did not take them or declined",
      labelNames: ["category", "from_provider", "to_provider"] as const,
      registers: [registry],
    });
  }

  call(provider: string, accountId: string, operation: string, outcome: ProviderCallOutcome, seconds: number): void {
    this.duration.labels(provider, accountId, operation, outcome).observe(seconds);
  }

  failover(category: ProviderCategory, fromProvider: string, toProvider: string): void {
    this.failovers.labels(category, fromProvider, toProvider).inc();
  }
}
