import { CircuitState } from "@onerouter/client/gen/onerouter/admin/v1/provider_accounts_pb";
import { Gauge, type Registry } from "prom-client";

// Health per provider account. CLOSED lets every call through; after
// `failureThreshold` consecutive failed calls it turns OPEN and the account
// is skipped. A failure is any call the provider did not answer: provably
// not processed, and ambiguous too (a timeout, a 5xx): ambiguity decides
// whether the same payment may fail over, not whether the provider is
// healthy. After the cooldown the circuit is HALF_OPEN: one health probe
// (the connector's testCredentials call, never a customer's payment) goes
// to the provider; its success closes the circuit, its failure opens it for
// another cooldown. Until then no new call goes to the account.
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

// What a new call to an account may do: go, skip the account, or skip it
// and probe the provider's health (the probe's outcome must be reported).
export type Admission = "call" | "skip" | "probe";

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

  // Whether a new call may go to the account now. Once the cooldown is over
  // one caller is told to probe; everyone skips the account until the
  // probe's outcome is reported.
  admit(accountId: string, provider: string): Admission {
    const breaker = this.breaker(accountId, provider);
    const state = this.current(breaker);
    if (state === "closed") return "call";
    if (state === "open" || breaker.probeInFlight) return "skip";
    breaker.state = "half_open";
    breaker.probeInFlight = true;
    return "probe";
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

  // The provider did not answer the call (not processed, or ambiguous).
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
      const reason = `${breaker.consecutiveFailures} consecutive calls the provider did not answer`;
      this.options.onTransition?.({ accountId, provider, transition: "opened", reason });
    }
  }

  // For ProviderAccount.circuit_state. An open circuit whose cooldown is
  // over reads HALF_OPEN: the next call to it starts the probe.
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
