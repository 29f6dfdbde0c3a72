import { readFileSync } from "node:fs";
import path from "node:path";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { PaymentService, PaymentStatus } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { WebhookService } from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import { startTracing } from "@onerouter/core";
import { startReceiver, waitFor, type Receiver } from "@onerouter/webhooks/testing";
import { newTestTenant } from "@onerouter/routing/testing";
import { apiClient, startTestOneRouter, type TestOneRouter } from "../test/index";

// What a platform team watches: a payment made with Envoy's traceparent is
// traced through the RPC to the provider call and on to its webhook
// delivery, and the server's /metrics exports every metric the k8s
// dashboard, alerts and README name, with the labels the README gives.

const root = path.resolve(import.meta.dirname, "../../..");
const monitoring = path.join(root, "k8s/components/monitoring");

// Metric names in a PromQL expression, without a histogram's suffixes.
const metricsIn = (expr: string) => [...expr.matchAll(/\b(onerouter_[a-z_]+?)(?:_bucket|_count|_sum)?\b(?![a-z_])/g)].map((m) => m[1]!);

// The metric families of a Prometheus text exposition: type and the label names seen.
function families(exposition: string): Map<string, { type: string; labels: Set<string> }> {
  const found = new Map<string, { type: string; labels: Set<string> }>();
  for (const line of exposition.split("\n")) {
    const typed = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (typed) found.set(typed[1]!, { type: typed[2]!, labels: new Set() });
    const sample = /^([a-z_]+?)(?:_bucket|_count|_sum)?\{([^}]*)\}/.exec(line);
    if (sample && found.has(sample[1]!)) {
      for (const [, label] of sample[2]!.matchAll(/([a-z_]+)="/g)) if (label !== "le") found.get(sample[1]!)!.labels.add(label!);
    }
  }
  return found;
}

describe("observability", () => {
  const spans = new InMemorySpanExporter();
  let app: TestOneRouter;
  let receiver: Receiver;

  beforeAll(async () => {
    startTracing().addSpanProcessor(new SimpleSpanProcessor(spans));
    app = await startTestOneRouter({ env: { ONEROUTER_WEBHOOK_ALLOWED_CIDRS: "127.0.0.0/8" } });
    receiver = await startReceiver();
    // A whole product migrating its embedded database: slow on a loaded machine.
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await receiver?.close();
  });

  // One payment, traced from Envoy's traceparent, and its webhook delivered; both tests read what it left.
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  let paid: Promise<{ paymentId: string; accountId: string }> | undefined;
  const pay = () =>
    (paid ??= (async () => {
      const tenant = await newTestTenant(app, "Traced");
      await app.ensureSandboxDefaults(tenant.id);
      await apiClient(app, WebhookService, tenant.testSecret).createEndpoint({ url: `${receiver.url}/hooks`, eventTypes: ["payment.succeeded"] });
      const { payment } = await apiClient(app, PaymentService, tenant.testSecret).createPayment(
        { amount: 2500n, currency: "USD" },
        { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, "Idempotency-Key": "traced-payment" } },
      );
      expect(payment?.status).toBe(PaymentStatus.SUCCEEDED);
      await waitFor("the payment's webhook", async () => receiver.requests.some((r) => r.body.includes(payment!.id)));
      // Replayed with other parameters: an idempotency conflict to count.
      await apiClient(app, PaymentService, tenant.testSecret)
        .createPayment({ amount: 1n, currency: "USD" }, { headers: { "Idempotency-Key": "traced-payment" } })
        .catch(() => undefined);
      return { paymentId: payment!.id, accountId: payment!.attempts[0]!.providerAccountId };
    })());

  const inTrace = () => spans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);

  it("traces a payment from Envoy's traceparent through the RPC to the provider call and its webhook delivery", async () => {
    const { paymentId, accountId } = await pay();
    const named = (name: string) => inTrace().find((s: ReadableSpan) => s.name === name);
    await waitFor("the delivery's span", async () => named("webhook delivery") !== undefined);

    const rpc = named("onerouter.payments.v1.PaymentService/CreatePayment")!;
    expect(rpc.kind).toBe(SpanKind.SERVER);
    expect(rpc.parentSpanContext?.spanId).toBe("00f067aa0ba902b7");

    const provider = inTrace().find((s) => s.attributes["onerouter.operation"] === "createPayment")!;
    expect(provider).toBeDefined();
    expect(provider.name).toBe("sandbox createPayment");
    expect(provider.kind).toBe(SpanKind.CLIENT);
    expect(provider.parentSpanContext?.spanId).toBe(rpc.spanContext().spanId);
    const [attempt] = await app.db.knex("payment_attempts").where({ payment_id: paymentId }).pluck("id");
    expect(provider.attributes).toMatchObject({
      "onerouter.provider": "sandbox",
      "onerouter.provider_account_id": accountId,
      "onerouter.attempt_id": attempt,
      "onerouter.outcome": "success",
    });

    const delivery = named("webhook delivery")!;
    expect(delivery.parentSpanContext?.spanId).toBe(rpc.spanContext().spanId);
    expect(delivery.attributes["http.response.status_code"]).toBe(204);
  });

  it("exports every metric the dashboard, the alerts (a valid PrometheusRule) and k8s/README.md name, with the README's labels", async () => {
    const { accountId } = await pay();
    await waitFor("the delivery's count", async () => (await (await fetch(`${app.baseUrl}/metrics`)).text()).includes("onerouter_webhook_delivery_attempts_total{"));
    const exposition = await (await fetch(`${app.baseUrl}/metrics`)).text();
    const exported = families(exposition);

    const rule = new PrometheusRule(parse(readFileSync(path.join(monitoring, "prometheus-rule.yaml"), "utf8")) as ConstructorParameters<typeof PrometheusRule>[0] & object);
    rule.validate();
    const dashboard = JSON.parse(readFileSync(path.join(monitoring, "dashboard.json"), "utf8")) as { panels: { targets: { expr: string }[] }[] };
    const used = new Set([
      ...rule.spec!.groups!.flatMap((g) => (g.rules ?? []).flatMap((r) => metricsIn(String(r.expr)))),
      ...dashboard.panels.flatMap((p) => p.targets.flatMap((t) => metricsIn(t.expr))),
    ]);
    expect(used.size).toBeGreaterThan(10);
    for (const name of used) expect(exported.has(name), `${name} on /metrics`).toBe(true);

    // Every documented metric, as the table types it and with exactly its labels.
    const readme = readFileSync(path.join(root, "k8s/README.md"), "utf8");
    const rows = [...readme.matchAll(/^\| `(onerouter_[a-z_]+)` \| (\w+) \|([^|]*)\|/gm)];
    expect(rows.length).toBeGreaterThan(10);
    for (const [, name, type, labels] of rows) {
      const family = exported.get(name!);
      expect(family, `${name} on /metrics`).toBeDefined();
      expect(family!.type, name).toBe(type);
      const documented = [...labels!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!).sort();
      if (family!.labels.size > 0) expect([...family!.labels].sort(), name).toEqual(documented);
    }

    // What the payment and its delivery recorded.
    const value = (prefix: string) => Number(exposition.split("\n").find((l) => l.startsWith(prefix))?.split(" ").pop());
    expect(
      value(`onerouter_provider_call_duration_seconds_count{provider="sandbox",provider_account_id="${accountId}",operation="createPayment",outcome="success"}`),
    ).toBeGreaterThanOrEqual(1);
    expect(value(`onerouter_webhook_delivery_attempts_total{outcome="delivered"}`)).toBeGreaterThanOrEqual(1);
    expect(value(`onerouter_idempotency_conflicts_total{reason="IDEMPOTENCY_KEY_REUSED"}`)).toBe(1);
    expect(value("onerouter_outbox_lag_seconds")).toBeGreaterThanOrEqual(0);
  });
});
