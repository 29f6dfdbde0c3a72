import { CircuitState } from "@onerouter/client/gen/onerouter/admin/v1/provider_accounts_pb";
import { Gauge, type Registry } from "prom-client";

// Health per provider account. CLOSED lets every call through; after
// `failureThreshold` consecutive calls the provider provably did not process
// (not_processed) it turns OPEN and the account is skipped; after the
// cooldown the next call is a single probe (HALF_OPEN) whose success closes
// the circuit and whose failure opens it again.
//
// Breakers live in process memory: in mesh mode each replica keeps its own
// and learns a provider's health from its own calls. A transition is told
// to `onTransition` by the process whose breaker made it: OPENED when a
// closed circuit opens, CLOSED when an open or half-open one closes (a
// failed half-open probe re-opening it is not news).

export interface CircuitTransition {
  accountId: string;
  provider: string;
  transition: "opened" | "closed";
  reason: string;
}

export interface CircuitBreakerOptions {
  failureThreshold: number;
  cooldownMs: number;
  // Exports onerouter_circuit_state when given.
  registry?: Registry;
  now?: () => number;
  onTransition?: (transition: CircuitTransition) => void;
}

interface Breaker {
  provider: string;
  state: "closed" | "open" | "half_open";
  consecutiveFailures: number;
  openedAt: number;
  probeInFlight: boolean;
}

const gaugeValue = { closed: 0, half_open: 1, open: 2 } as const;

export class CircuitBreakers {
  private readonly breakers = new Map<string, Breaker>();
  private readonly now: () => number;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.now = options.now ?? Date.now;
    if (options.registry) {
      // Read at each scrape, so an elapsed cooldown shows as half-open.
      const gauge: Gauge<"provider_account_id" | "provider"> = new Gauge({
        name: "onerouter_circuit_state",
        help: "Circuit breaker state per provider account: 0 closed, 1 half-open, 2 open",
        labelNames: ["provider_account_id", "provider"] as const,
        registers: [options.registry],
        collect: () => {
          gauge.reset();
          for (const [id, breaker] of this.breakers) {
            gauge.set({ provider_account_id: id, provider: breaker.provider }, gaugeValue[this.current(breaker)]);
          }
        },
      });
    }
  }

  // Whether a call may go to the account now. In HALF_OPEN only one call at
  // a time goes, as the probe; its outcome must be reported.
  tryAcquire(accountId: string, provider: string): boolean {
    const breaker = this.breaker(accountId, provider);
    const state = this.current(breaker);
    if (state === "closed") return true;
    if (state === "open" || breaker.probeInFlight) return false;
    breaker.state = "half_open";
    breaker.probeInFlight = true;
    return true;
  }

  // The provider answered (a decline or a rejected request count too).
  recordSuccess(accountId: string, provider: string): void {
    const breaker = this.breaker(accountId, provider);
    const was = breaker.state;
    breaker.state = "closed";
    breaker.consecutiveFailures = 0;
    breaker.probeInFlight = false;
    if (was !== "closed") {
      this.options.onTransition?.({ accountId, provider, transition: "closed", reason: "the provider answered a call again" });
    }
  }

  // The provider provably did not process the call.
  recordFailure(accountId: string, provider: string): void {
    const breaker = this.breaker(accountId, provider);
    const was = breaker.state;
    breaker.consecutiveFailures += 1;
    if (breaker.state === "half_open" || breaker.consecutiveFailures >= this.options.failureThreshold) {
      breaker.state = "open";
      breaker.openedAt = this.now();
    }
    breaker.probeInFlight = false;
    if (was === "closed" && breaker.state === "open") {
      const reason = `${breaker.consecutiveFailures} consecutive calls the provider did not process`;
      this.options.onTransition?.({ accountId, provider, transition: "opened", reason });
    }
  }

  // The outcome says nothing about health (e.g. it is ambiguous): a probe
  // gives its turn to the next call.
  recordInconclusive(accountId: string, provider: string): void {
    this.breaker(accountId, provider).probeInFlight = false;
  }

  // For ProviderAccount.circuit_state. An open circuit whose cooldown is
  // over reads HALF_OPEN: the next call is the probe.
  state(accountId: string): CircuitState {
    const breaker = this.breakers.get(accountId);
    if (!breaker) return CircuitState.CLOSED;
    return { closed: CircuitState.CLOSED, open: CircuitState.OPEN, half_open: CircuitState.HALF_OPEN }[this.current(breaker)];
  }

  private current(breaker: Breaker): Breaker["state"] {
    if (breaker.state === "open" && this.now() - breaker.openedAt >= this.options.cooldownMs) return "half_open";
    return breaker.state;
  }

  private breaker(accountId: string, provider: string): Breaker {
    let breaker = this.breakers.get(accountId);
    if (!breaker) {
      breaker = { provider, state: "closed", consecutiveFailures: 0, openedAt: 0, probeInFlight: false };
      this.breakers.set(accountId, breaker);
    }
    return breaker;
  }
}
