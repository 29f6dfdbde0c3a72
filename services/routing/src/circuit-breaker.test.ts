import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { CircuitState } from "@onerouter/client/gen/onerouter/admin/v1/provider_accounts_pb";
import { CircuitBreakers, type CircuitTransition } from "./circuit-breaker";

function breakers(failureThreshold = 3, cooldownMs = 1000) {
  let now = 0;
  const registry = new Registry();
  const transitions: CircuitTransition[] = [];
  const b = new CircuitBreakers({ failureThreshold, cooldownMs, registry, now: () => now, onTransition: (t) => transitions.push(t) });
  return { b, registry, transitions, advance: (ms: number) => (now += ms) };
}

async function gauge(registry: Registry) {
  const metric = await registry.getSingleMetric("onerouter_circuit_state")!.get();
  return metric.values.map((v) => ({ ...v.labels, value: v.value }));
}

describe("circuit breakers", () => {
  it("tells each opening of a closed circuit and each closing, not a failed half-open probe re-opening it", () => {
    const { b, transitions, advance } = breakers(2);
    b.recordFailure("pa_1", "sandbox");
    expect(transitions).toEqual([]);
    b.recordFailure("pa_1", "sandbox");
    b.recordFailure("pa_1", "sandbox");
    expect(transitions).toEqual([{ accountId: "pa_1", provider: "sandbox", transition: "opened", reason: "2 consecutive calls the provider did not answer" }]);
    advance(1000);
    expect(b.admit("pa_1", "sandbox")).toBe("probe");
    b.recordFailure("pa_1", "sandbox");
    expect(transitions).toHaveLength(1);
    advance(1000);
    b.admit("pa_1", "sandbox");
    b.recordSuccess("pa_1", "sandbox");
    b.recordSuccess("pa_1", "sandbox");
    expect(transitions.map((t) => t.transition)).toEqual(["opened", "closed"]);
  });

  it("opens after the configured consecutive failures and skips the account", () => {
    const { b } = breakers(3);
    for (let i = 0; i < 2; i++) {
      expect(b.admit("pa_1", "sandbox")).toBe("call");
      b.recordFailure("pa_1", "sandbox");
    }
    expect(b.state("pa_1")).toBe(CircuitState.CLOSED);
    b.admit("pa_1", "sandbox");
    b.recordFailure("pa_1", "sandbox");
    expect(b.state("pa_1")).toBe(CircuitState.OPEN);
    expect(b.admit("pa_1", "sandbox")).toBe("skip");
    // Other accounts are unaffected.
    expect(b.admit("pa_2", "sandbox")).toBe("call");
  });

  it("counts only consecutive failures", () => {
    const { b } = breakers(2);
    b.recordFailure("pa_1", "sandbox");
    b.recordSuccess("pa_1", "sandbox");
    b.recordFailure("pa_1", "sandbox");
    expect(b.state("pa_1")).toBe(CircuitState.CLOSED);
  });

  it("asks one caller to probe after the cooldown, skips the account until the probe succeeds, then closes", () => {
    const { b, advance } = breakers(1, 1000);
    b.recordFailure("pa_1", "sandbox");
    advance(999);
    expect(b.admit("pa_1", "sandbox")).toBe("skip");
    advance(1);
    expect(b.state("pa_1")).toBe(CircuitState.HALF_OPEN);
    expect(b.admit("pa_1", "sandbox")).toBe("probe");
    // While the probe runs, nothing goes and no one else probes.
    expect(b.admit("pa_1", "sandbox")).toBe("skip");
    advance(60_000);
    expect(b.admit("pa_1", "sandbox")).toBe("skip");
    b.recordSuccess("pa_1", "sandbox");
    expect(b.state("pa_1")).toBe(CircuitState.CLOSED);
    expect(b.admit("pa_1", "sandbox")).toBe("call");
  });

  it("re-opens on a failed probe and waits a full cooldown again", () => {
    const { b, advance } = breakers(1, 1000);
    b.recordFailure("pa_1", "sandbox");
    advance(1000);
    expect(b.admit("pa_1", "sandbox")).toBe("probe");
    b.recordFailure("pa_1", "sandbox");
    expect(b.state("pa_1")).toBe(CircuitState.OPEN);
    advance(500);
    expect(b.admit("pa_1", "sandbox")).toBe("skip");
    advance(500);
    expect(b.admit("pa_1", "sandbox")).toBe("probe");
  });

  it("exports each account's state as onerouter_circuit_state", async () => {
    const { b, registry, advance } = breakers(1, 1000);
    b.admit("pa_ok", "sandbox");
    b.recordSuccess("pa_ok", "sandbox");
    b.recordFailure("pa_down", "stripe");
    expect(await gauge(registry)).toEqual(
      expect.arrayContaining([
        { provider_account_id: "pa_ok", provider: "sandbox", value: 0 },
        { provider_account_id: "pa_down", provider: "stripe", value: 2 },
      ]),
    );
    advance(1000);
    expect(await gauge(registry)).toContainEqual({ provider_account_id: "pa_down", provider: "stripe", value: 1 });
  });
});
