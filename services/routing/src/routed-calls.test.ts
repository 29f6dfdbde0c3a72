import { create } from "@bufbuild/protobuf";
import { describe, expect, it, vi } from "vitest";
import { FeeSchema } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { CircuitState } from "@onerouter/client/gen/onerouter/admin/v1/provider_accounts_pb";
import { ProviderErrorSchema } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { CircuitBreakers } from "./circuit-breaker";
import { ConnectorError, type ConnectorContext } from "./connector-kit";
import { ConnectorRegistry, type RegisteredConnector } from "./connector-registry";
import type { ProviderAccountStore, ProviderAccountWithCredentials } from "./provider-accounts";
import { ProviderOutbound } from "./provider-outbound";
import { RoutedCalls, type RouteHooks, type RouteStep } from "./routed-calls";
import type { RoutingProfileStore } from "./routing-profiles";

// The routed-call loop and the connector registry without a database: the
// loop only sees candidates, the breakers and the room's hooks.

interface EchoConnector extends RegisteredConnector {
  echo(ctx: ConnectorContext, fail?: ConnectorError | Error): Promise<Record<string, string>>;
}

// What the echo provider's health check answers, and how often it was asked.
const echoHealth = { down: false, checks: 0 };

const echoConnector = (name: string): EchoConnector => ({
  name,
  credentialKeys: ["api_key"],
  testCredentials: async () => {
    echoHealth.checks += 1;
    if (echoHealth.down) throw new ConnectorError("not_processed", name, "connection refused");
  },
  echo: async (ctx, fail) => {
    if (fail) throw fail;
    return ctx.settings;
  },
});

function account(id: string, provider = "echo", settings: Record<string, string> = {}): ProviderAccountWithCredentials {
  const now = new Date();
  return { id, tenantId: "ten_1", environment: "test", provider, category: "payments", displayName: id, settings, enabled: true, createdAt: now, updatedAt: now, credentials: {} };
}

function setUp() {
  const outbound = new ProviderOutbound({ baseUrls: [], allowedCidrs: [] });
  const registry = new ConnectorRegistry({ outbound, providerTimeoutMs: 1000 });
  const connectors = registry.register("payments", [
    {
      connector: echoConnector("echo"),
      defaultFees: [create(FeeSchema, { provider: "echo", percentageBps: 100 })],
      settings: (stored, accountId) => ({ ...stored, filled_in: accountId ?? "none" }),
    },
    { connector: echoConnector("plain"), defaultFees: [] },
  ]);
  registry.register("messaging", [{ connector: echoConnector("echo_sms"), defaultFees: [create(FeeSchema, { provider: "echo_sms" })] }]);
  echoHealth.down = false;
  echoHealth.checks = 0;
  const clock = { now: 0 };
  const breakers = new CircuitBreakers({ failureThreshold: 1, cooldownMs: 60_000, now: () => clock.now });
  const calls = new RoutedCalls({
    accounts: {} as ProviderAccountStore,
    profiles: {} as RoutingProfileStore,
    breakers,
    connectors,
  });
  return { registry, connectors, breakers, calls, clock };
}

// Hooks that record what the loop did; `steps` says what each settled attempt answers.
function recordingHooks(steps: RouteStep[], started: (string | undefined)[] = []) {
  const seen: string[] = [];
  let exhausted: Parameters<RouteHooks<string, string>["exhausted"]>[0] | undefined;
  const hooks: RouteHooks<string, string> = {
    start: async (a) => {
      seen.push(`start ${a.id}`);
      return started.length > 0 ? started.shift() : `att_${a.id}`;
    },
    call: async (_a, attempt) => {
      seen.push(`call ${attempt}`);
      return { kind: "answered", result: attempt };
    },
    settle: async (_a, attempt, _outcome, latencyMs) => {
      seen.push(`settle ${attempt}`);
      expect(latencyMs).toBeGreaterThanOrEqual(0);
      return steps.shift() ?? { kind: "done" };
    },
    exhausted: async (result) => {
      exhausted = result;
    },
  };
  return { hooks, seen, exhausted: () => exhausted };
}

const candidate = (id: string) => ({ account: account(id), estimatedFee: 0n, reason: "chosen: priority 1 of 1" });

describe("routed calls", () => {
  it("stops at the first attempt whose settlement says done", async () => {
    const { calls } = setUp();
    const { hooks, seen, exhausted } = recordingHooks([{ kind: "next" }, { kind: "done" }]);
    await calls.route([candidate("pa_1"), candidate("pa_2"), candidate("pa_3")], hooks);
    expect(seen).toEqual(["start pa_1", "call att_pa_1", "settle att_pa_1", "start pa_2", "call att_pa_2", "settle att_pa_2"]);
    expect(exhausted()).toBeUndefined();
  });

  it("reports the last decline failed over on when every candidate is used up, with open circuits skipped", async () => {
    const { calls, breakers } = setUp();
    breakers.recordFailure("pa_2", "echo");
    const decline = create(ProviderErrorSchema, { reason: "PROVIDER_DECLINED" });
    const { hooks, seen, exhausted } = recordingHooks([{ kind: "next", decline }, { kind: "next" }]);
    await calls.route([candidate("pa_1"), candidate("pa_2"), candidate("pa_3")], { ...hooks, skips: (a) => a.id === "pa_3" });
    expect(seen).toEqual(["start pa_1", "call att_pa_1", "settle att_pa_1"]);
    expect(exhausted()).toEqual({ candidates: 3, tried: 1, decline });
  });

  it("leaves the object to whoever holds it when no attempt can start", async () => {
    const { calls } = setUp();
    const { hooks, seen, exhausted } = recordingHooks([], [undefined]);
    await calls.route([candidate("pa_1"), candidate("pa_2")], hooks);
    expect(seen).toEqual(["start pa_1"]);
    expect(exhausted()).toBeUndefined();
  });

  it("probes a half-open account's health in the background and sends no object to it until the probe succeeds", async () => {
    const { calls, breakers, clock } = setUp();
    breakers.recordFailure("pa_1", "echo");
    clock.now += 60_000;
    expect(breakers.state("pa_1")).toBe(CircuitState.HALF_OPEN);
    echoHealth.down = true;
    const first = recordingHooks([]);
    await calls.route([candidate("pa_1"), candidate("pa_2")], first.hooks);
    expect(first.seen).toEqual(["start pa_2", "call att_pa_2", "settle att_pa_2"]);
    await vi.waitFor(() => expect(breakers.state("pa_1")).toBe(CircuitState.OPEN));
    expect(echoHealth.checks).toBe(1);

    clock.now += 60_000;
    echoHealth.down = false;
    const second = recordingHooks([]);
    await calls.route([candidate("pa_1"), candidate("pa_2")], second.hooks);
    expect(second.seen).toEqual(["start pa_2", "call att_pa_2", "settle att_pa_2"]);
    await vi.waitFor(() => expect(breakers.state("pa_1")).toBe(CircuitState.CLOSED));
    expect(echoHealth.checks).toBe(2);

    const third = recordingHooks([]);
    await calls.route([candidate("pa_1"), candidate("pa_2")], third.hooks);
    expect(third.seen).toEqual(["start pa_1", "call att_pa_1", "settle att_pa_1"]);
  });

  it("passes on a failure to start an attempt", async () => {
    const { calls } = setUp();
    const { hooks } = recordingHooks([]);
    const failing = { ...hooks, start: () => Promise.reject(new Error("database gone")) };
    await expect(calls.route([candidate("pa_1")], failing)).rejects.toThrow("database gone");
  });

  it("classifies a failed call and tells the account's breaker, an ambiguous failure included", async () => {
    const { calls, breakers } = setUp();
    const notSent = new ConnectorError("not_processed", "echo", "connection refused");
    const failed = await calls.call(account("pa_1"), (connector, ctx) => connector.echo(ctx, notSent));
    expect(failed).toMatchObject({ kind: "not_taken", error: { reason: "PROVIDER_UNAVAILABLE", provider: "echo" } });
    expect(breakers.state("pa_1")).toBe(CircuitState.OPEN);
    const ambiguous = await calls.call(account("pa_2"), (connector, ctx) => connector.echo(ctx, new ConnectorError("ambiguous", "echo", "timeout")));
    expect(ambiguous.kind).toBe("unknown");
    expect(breakers.state("pa_2")).toBe(CircuitState.OPEN);
    const refused = await calls.call(account("pa_3"), (connector, ctx) => connector.echo(ctx, new ConnectorError("invalid_request", "echo", "bad card")));
    expect(refused.kind).toBe("rejected");
    expect(breakers.state("pa_3")).toBe(CircuitState.CLOSED);
  });

  it("calls with the settings the provider's registration resolves for the account", async () => {
    const { calls } = setUp();
    const answered = await calls.call(account("pa_1", "echo", { region: "eu" }), (connector, ctx) => connector.echo(ctx));
    expect(answered).toEqual({ kind: "answered", result: { region: "eu", filled_in: "pa_1" } });
    const plain = await calls.call(account("pa_2", "plain", { region: "eu" }), (connector, ctx) => connector.echo(ctx));
    expect(plain).toEqual({ kind: "answered", result: { region: "eu" } });
  });
});

describe("connector registry", () => {
  it("lists every category's providers and published fees", () => {
    const { registry, connectors } = setUp();
    expect(registry.providers().map((p) => [p.category, p.name])).toEqual([
      ["payments", "echo"],
      ["payments", "plain"],
      ["messaging", "echo_sms"],
    ]);
    expect(registry.defaultFees("payments").map((f) => f.provider)).toEqual(["echo"]);
    expect(registry.defaultFees("messaging").map((f) => f.provider)).toEqual(["echo_sms"]);
    expect(connectors.get("echo_sms")).toBeUndefined();
    expect(() => connectors.require("echo_sms")).toThrow("no payments connector named echo_sms");
    expect(() => registry.register("payments", [])).toThrow("registered already");
  });
});
