import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { render, validationProblems, type K8sObject } from "./kubernetes";
import { root } from "./protos";

// k8s/ rendered as a platform engineer applies it (`kubectl kustomize`),
// every object valid for its kind, and the deployment's promises kept:
// one Deployment per service and worker with gRPC probes, locked-down pods,
// disruption budgets and autoscalers, only Envoy reaching the services,
// NATS JetStream on three servers, Postgres per overlay, secrets from Secrets.

const apiServices = ["payments", "messaging", "webhooks", "admin", "gatekeeper"];
const workers = ["webhook-dispatcher", "outbox-relay"];
const processes = [...apiServices, ...workers];

interface PodSpec {
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } };
  automountServiceAccountToken?: boolean;
  containers: Container[];
  volumes?: { name: string; configMap?: { name: string }; secret?: { secretName: string } }[];
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  readinessProbe?: { grpc?: { port: number; service?: string } };
  livenessProbe?: { grpc?: { port: number; service?: string } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; capabilities?: { drop?: string[] } };
}
interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}
interface NetworkPolicySpec {
  podSelector: Selector;
  policyTypes?: string[];
  ingress?: { from?: { podSelector?: Selector; namespaceSelector?: Selector }[]; ports?: { port: number }[] }[];
}

const spec = <T>(o: K8sObject) => o.spec as T;
const podSpec = (o: K8sObject): PodSpec => spec<{ template: { spec: PodSpec } }>(o).template.spec;
const podLabels = (o: K8sObject): Record<string, string> => spec<{ template: { metadata: { labels: Record<string, string> } } }>(o).template.metadata.labels;
const workloads = (objects: K8sObject[]) => objects.filter((o) => ["Deployment", "StatefulSet", "Job"].includes(o.kind));

function matches(selector: Selector, labels: Record<string, string>): boolean {
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpressions = (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    if (operator === "In") return values.includes(labels[key]!);
    if (operator === "NotIn") return !values.includes(labels[key]!);
    if (operator === "Exists") return key in labels;
    if (operator === "DoesNotExist") return !(key in labels);
    throw new Error(`operator ${operator}`);
  });
  return byLabels && byExpressions;
}

// Who may open a connection to a pod's port, as the NetworkPolicies say:
// names of this namespace's workloads, `namespace:<name>` for other
// namespaces, `*` for anyone.
function allowedPeers(objects: K8sObject[], target: Record<string, string>, port: number): string[] {
  const policies = objects.filter((o) => o.kind === "NetworkPolicy").map((o) => spec<NetworkPolicySpec>(o));
  const selecting = policies.filter((p) => (p.policyTypes ?? ["Ingress"]).includes("Ingress") && matches(p.podSelector, target));
  if (selecting.length === 0) return ["*"];
  const peers = new Set<string>();
  for (const rule of selecting.flatMap((p) => p.ingress ?? [])) {
    if (rule.ports && !rule.ports.some((p) => p.port === port)) continue;
    if (!rule.from) peers.add("*");
    for (const from of rule.from ?? []) {
      if (from.namespaceSelector) {
        peers.add(`namespace:${from.namespaceSelector.matchLabels?.["kubernetes.io/metadata.name"] ?? "?"}`);
      } else if (from.podSelector) {
        for (const w of workloads(objects)) if (matches(from.podSelector, podLabels(w))) peers.add(w.metadata.name);
      }
    }
  }
  return [...peers].sort();
}

function byKind(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name}`);
  return found;
}

// The settings every OneRouter process reads (the onerouter-config ConfigMap).
function onerouterConfig(objects: K8sObject[]): Record<string, string> {
  const name = podSpec(byKind(objects, "Deployment", "payments")).containers[0]!.envFrom![0]!.configMapRef!.name;
  return byKind(objects, "ConfigMap", name).data as Record<string, string>;
}

const secretRefs = (pod: PodSpec) =>
  pod.containers.flatMap((c) => [
    ...(c.env ?? []).flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : [])),
    ...(c.envFrom ?? []).flatMap((e) => (e.secretRef ? [{ name: e.secretRef.name, key: "*" }] : [])),
  ]);
const envSecret = (pod: PodSpec, name: string) => pod.containers[0]!.env?.find((e) => e.name === name)?.valueFrom?.secretKeyRef;

// The Secrets a platform engineer creates before applying prod, and the one
// CloudNativePG writes (k8s/README.md).
const prodSecretsFromOutside = ["onerouter-master-key", "onerouter-mesh-secret", "onerouter-db-app"];

describe.each(["dev", "prod"])("k8s/overlays/%s", (overlay) => {
  let objects: K8sObject[];

  beforeAll(() => {
    objects = render(`k8s/overlays/${overlay}`);
  }, 120_000);

  it("renders only objects valid for their kind, with no field their model lacks", () => {
    expect(validationProblems(objects)).toEqual([]);
    const namespace = overlay === "prod" ? "onerouter" : "onerouter-dev";
    for (const o of objects.filter((o) => o.kind !== "Namespace")) expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(namespace);
  }, 120_000);

  it("runs each service and worker as its own Deployment of the one image, with gRPC probes", () => {
    const images = new Set<string>();
    for (const name of processes) {
      const pod = podSpec(byKind(objects, "Deployment", name));
      const container = pod.containers.find((c) => c.name === "onerouter")!;
      expect(container.args).toEqual(["serve", name]);
      images.add(container.image);
      expect(container.livenessProbe?.grpc?.port, name).toBe(8080);
      expect(container.readinessProbe?.grpc?.port, name).toBe(8080);
      // Ready is per service (its dependencies usable), not just "the process runs".
      expect(container.readinessProbe?.grpc?.service, name).toBeTruthy();
    }
    const migrate = podSpec(byKind(objects, "Job", "onerouter-migrate")).containers[0]!;
    expect(migrate.args).toEqual(["migrate"]);
    images.add(migrate.image);
    expect(images.size).toBe(1);
    expect([...images][0]).toMatch(overlay === "prod" ? /:0\.1\.0$/ : /:dev$/);
  });

  it("gives every Envoy cluster of a service a Service of that name on port 8080, resolving every pod", () => {
    const envoy = parse(readFileSync(path.join(root, "envoy/envoy.yaml"), "utf8"));
    const clusters = (
      envoy.static_resources.clusters as {
        name: string;
        health_checks: { grpc_health_check: { service_name: string } }[];
        load_assignment: { endpoints: { lb_endpoints: { endpoint: { address: { socket_address: { address: string; port_value: number } } } }[] }[] };
      }[]
    ).filter((c) => c.name !== "otel-collector");
    // The collector's cluster has a Service only with components/tracing (tested below).
    expect(clusters.map((c) => c.name).sort()).toEqual([...apiServices].sort());
    for (const cluster of clusters) {
      const address = cluster.load_assignment.endpoints[0]!.lb_endpoints[0]!.endpoint.address.socket_address;
      const service = spec<{ clusterIP?: string; ports: { port: number }[]; selector: Record<string, string> }>(byKind(objects, "Service", address.address));
      expect(service.ports.map((p) => p.port)).toContain(address.port_value);
      expect(service.clusterIP, `${address.address} is headless, so Envoy balances each request`).toBe("None");
      const deployment = byKind(objects, "Deployment", cluster.name);
      expect(matches({ matchLabels: service.selector }, podLabels(deployment))).toBe(true);
      // Envoy sends calls to the pods the kubelet counts as ready, by the same check.
      expect(cluster.health_checks[0]!.grpc_health_check.service_name).toBe(podSpec(deployment).containers[0]!.readinessProbe!.grpc!.service);
    }
  });

  it("mounts envoy/envoy.yaml as Envoy's bootstrap", () => {
    const pod = podSpec(byKind(objects, "Deployment", "envoy"));
    const configMapName = pod.volumes!.find((v) => v.configMap)!.configMap!.name;
    const configMap = byKind(objects, "ConfigMap", configMapName);
    expect((configMap.data as Record<string, string>)["envoy.yaml"]).toBe(readFileSync(path.join(root, "envoy/envoy.yaml"), "utf8"));
    expect(spec<{ type: string }>(byKind(objects, "Service", "envoy")).type).toBe(overlay === "prod" ? "LoadBalancer" : "ClusterIP");
  });

  it("locks every pod down: non-root, read-only root filesystem, no privilege, no token, resources set", () => {
    for (const workload of workloads(objects)) {
      const pod = podSpec(workload);
      const name = `${workload.kind}/${workload.metadata.name}`;
      expect(pod.securityContext?.runAsNonRoot, name).toBe(true);
      expect(pod.securityContext?.runAsUser, name).toBeGreaterThan(0);
      expect(pod.securityContext?.seccompProfile?.type, name).toBe("RuntimeDefault");
      expect(pod.automountServiceAccountToken, name).toBe(false);
      for (const c of pod.containers) {
        expect(c.securityContext, `${name} ${c.name}`).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
        expect(Object.keys(c.resources?.requests ?? {}).sort(), `${name} ${c.name}`).toEqual(["cpu", "memory"]);
        expect(c.resources?.limits?.memory, `${name} ${c.name}`).toBeDefined();
      }
    }
  });

  it("keeps every long-running workload under a PodDisruptionBudget, and autoscales the services and the edge", () => {
    const budgets = objects.filter((o) => o.kind === "PodDisruptionBudget").map((o) => spec<{ selector: Selector; maxUnavailable?: number }>(o));
    // Dev's single Postgres has no replica to keep available.
    for (const workload of objects.filter((o) => ["Deployment", "StatefulSet"].includes(o.kind) && o.metadata.name !== "postgres")) {
      const covering = budgets.filter((b) => matches(b.selector, podLabels(workload)));
      expect(covering, workload.metadata.name).toHaveLength(1);
      expect(covering[0]!.maxUnavailable, workload.metadata.name).toBe(1);
    }
    const scaled = objects
      .filter((o) => o.kind === "HorizontalPodAutoscaler")
      .map((o) => spec<{ scaleTargetRef: { kind: string; name: string }; minReplicas: number; maxReplicas: number }>(o));
    for (const name of [...apiServices, "envoy", "webhook-dispatcher"]) {
      const hpa = scaled.find((s) => s.scaleTargetRef.kind === "Deployment" && s.scaleTargetRef.name === name);
      expect(hpa, name).toBeDefined();
      expect(hpa!.minReplicas, name).toBe(overlay === "prod" ? 3 : 1);
      expect(hpa!.maxReplicas).toBeGreaterThan(hpa!.minReplicas);
    }
  });

  it("lets only Envoy reach the services (and admin and the gatekeeper the messaging service), Prometheus only scrape", () => {
    const deny = objects.filter((o) => o.kind === "NetworkPolicy").map((o) => spec<NetworkPolicySpec>(o));
    expect(deny.some((p) => Object.keys(p.podSelector).length === 0 && (p.ingress ?? []).length === 0)).toBe(true);
    const pods = (name: string) => podLabels(byKind(objects, "Deployment", name));
    expect(allowedPeers(objects, pods("envoy"), 8080)).toEqual(["*"]);
    for (const name of ["payments", "webhooks", "admin", "gatekeeper"]) {
      expect(allowedPeers(objects, pods(name), 8080), name).toEqual(["envoy", "namespace:monitoring"]);
    }
    expect(allowedPeers(objects, pods("messaging"), 8080)).toEqual(["admin", "envoy", "gatekeeper", "namespace:monitoring"]);
    for (const name of workers) expect(allowedPeers(objects, pods(name), 8080), name).toEqual(["namespace:monitoring"]);
    // Nothing else is open on the services.
    expect(allowedPeers(objects, pods("payments"), 9901)).toEqual([]);

    const nats = podLabels(byKind(objects, "StatefulSet", "nats"));
    expect(allowedPeers(objects, nats, 4222)).toEqual([...apiServices, ...workers].sort());
    expect(allowedPeers(objects, nats, 6222)).toEqual(["nats"]);
  });

  it("lets every workload reach each service whose URL it is given (ONEROUTER_*_URL)", () => {
    const configMaps = new Map(objects.filter((o) => o.kind === "ConfigMap").map((o) => [o.metadata.name, (o.data ?? {}) as Record<string, string>]));
    const given: string[] = [];
    for (const workload of workloads(objects)) {
      for (const container of podSpec(workload).containers) {
        const env = new Map<string, string>();
        for (const from of container.envFrom ?? []) {
          for (const [name, value] of Object.entries(configMaps.get(from.configMapRef?.name ?? "") ?? {})) env.set(name, value);
        }
        for (const e of container.env ?? []) if (e.value !== undefined) env.set(e.name, e.value);
        for (const [name, value] of env) {
          // The public URL is where the outside reaches Envoy, not a service.
          if (!/^ONEROUTER_[A-Z_]+_URL$/.test(name) || name === "ONEROUTER_PUBLIC_URL") continue;
          const url = new URL(value);
          const service = byKind(objects, "Service", url.hostname);
          const ports = spec<{ selector: Record<string, string>; ports: { port: number; targetPort?: number | string }[] }>(service);
          const port = ports.ports.find((p) => p.port === Number(url.port || 80))!;
          const target = workloads(objects).find((w) => matches({ matchLabels: ports.selector }, podLabels(w)))!;
          const targetPort = podSpec(target)
            .containers.flatMap((c) => c.ports ?? [])
            .find((p) => p.name === port.targetPort || p.containerPort === (port.targetPort ?? port.port))!.containerPort;
          expect(allowedPeers(objects, podLabels(target), targetPort), `${workload.metadata.name} ${name}=${value}`).toContain(workload.metadata.name);
          given.push(`${workload.metadata.name} ${name}`);
        }
      }
    }
    expect(given.sort()).toEqual(["admin ONEROUTER_MESSAGING_URL", "gatekeeper ONEROUTER_MESSAGING_URL"]);
  });

  it("exports no traces unless a platform team adds components/tracing", () => {
    expect(onerouterConfig(objects).OTEL_TRACES_EXPORTER).toBe("none");
    expect(objects.filter((o) => o.metadata.name === "otel-collector")).toEqual([]);
  });

  it("runs NATS with JetStream as three clustered servers", () => {
    const nats = byKind(objects, "StatefulSet", "nats");
    const natsSpec = spec<{ replicas: number; serviceName: string; volumeClaimTemplates: unknown[] }>(nats);
    expect(natsSpec.replicas).toBe(3);
    expect(natsSpec.volumeClaimTemplates).toHaveLength(1);
    const pod = podSpec(nats);
    const configMap = byKind(objects, "ConfigMap", pod.volumes!.find((v) => v.configMap)!.configMap!.name);
    const conf = (configMap.data as Record<string, string>)["nats.conf"]!;
    expect(conf).toMatch(/jetstream \{[^}]*store_dir: \/data/);
    const routes = [...conf.matchAll(/nats:\/\/([a-z0-9-]+)\.([a-z0-9-]+):6222/g)];
    expect(routes.map((r) => r[1])).toEqual(["nats-0", "nats-1", "nats-2"]);
    expect(new Set(routes.map((r) => r[2]))).toEqual(new Set([natsSpec.serviceName]));
    expect(spec<{ clusterIP: string }>(byKind(objects, "Service", natsSpec.serviceName)).clusterIP).toBe("None");
    const config = byKind(objects, "ConfigMap", podSpec(byKind(objects, "Deployment", "payments")).containers[0]!.envFrom![0]!.configMapRef!.name);
    expect((config.data as Record<string, string>).NATS_URL).toBe("nats://nats:4222");
    expect((config.data as Record<string, string>).ONEROUTER_NATS_STREAM_REPLICAS).toBe(String(natsSpec.replicas));
  });

  it("takes the database URL, master key and mesh secret from Secrets", () => {
    const secrets = new Set(objects.filter((o) => o.kind === "Secret").map((o) => o.metadata.name));
    for (const workload of workloads(objects)) {
      for (const ref of secretRefs(podSpec(workload))) {
        const known = secrets.has(ref.name) || (overlay === "prod" && prodSecretsFromOutside.includes(ref.name));
        expect(known, `${workload.metadata.name} reads Secret ${ref.name}`).toBe(true);
      }
    }
    const onerouterPods = [...processes.map((n) => podSpec(byKind(objects, "Deployment", n))), podSpec(byKind(objects, "Job", "onerouter-migrate"))];
    for (const pod of onerouterPods) {
      expect(envSecret(pod, "DATABASE_URL")).toBeDefined();
      expect(envSecret(pod, "ONEROUTER_MASTER_KEY")).toBeDefined();
    }
    for (const workload of workloads(objects)) {
      for (const e of podSpec(workload).containers.flatMap((c) => c.env ?? [])) {
        if (/KEY|SECRET|PASSWORD|DATABASE_URL/.test(e.name)) expect(e.valueFrom?.secretKeyRef, `${workload.metadata.name} ${e.name}`).toBeDefined();
      }
    }
    for (const name of processes) expect(envSecret(podSpec(byKind(objects, "Deployment", name)), "ONEROUTER_MESH_SECRET")).toBeDefined();

    const databaseUrl = envSecret(onerouterPods[0]!, "DATABASE_URL")!;
    const clusters = objects.filter((o) => o.kind === "Cluster");
    const postgres = objects.filter((o) => o.kind === "StatefulSet" && o.metadata.name === "postgres");
    if (overlay === "prod") {
      // CloudNativePG's app Secret of the cluster, three instances on different nodes.
      expect(postgres).toEqual([]);
      expect(clusters).toHaveLength(1);
      const cluster = clusters[0]!;
      expect(spec<{ instances: number }>(cluster).instances).toBeGreaterThanOrEqual(3);
      expect(spec<{ affinity: { podAntiAffinityType: string } }>(cluster).affinity.podAntiAffinityType).toBe("required");
      expect(databaseUrl).toEqual({ name: `${cluster.metadata.name}-app`, key: "uri" });
    } else {
      expect(clusters).toEqual([]);
      expect(postgres).toHaveLength(1);
      expect(spec<{ replicas: number }>(postgres[0]!).replicas).toBe(1);
      const secret = byKind(objects, "Secret", databaseUrl.name);
      const url = Buffer.from((secret.data as Record<string, string>)[databaseUrl.key]!, "base64").toString();
      expect(new URL(url).hostname).toBe("postgres");
      expect(allowedPeers(objects, podLabels(postgres[0]!), 5432)).toEqual([...processes, "onerouter-migrate"].sort());
      const masterKey = byKind(objects, "Secret", envSecret(onerouterPods[0]!, "ONEROUTER_MASTER_KEY")!.name);
      expect(Buffer.from(Buffer.from((masterKey.data as Record<string, string>).key!, "base64").toString(), "base64")).toHaveLength(32);
    }
  });
});

describe("k8s/components/tracing (with prod)", () => {
  let objects: K8sObject[];
  beforeAll(() => {
    // An overlay of the platform team's: prod and the component.
    const dir = mkdtempSync(path.join(os.tmpdir(), "onerouter-tracing-"));
    try {
      const relative = (to: string) => path.relative(dir, path.join(root, to));
      writeFileSync(
        path.join(dir, "kustomization.yaml"),
        `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ${relative("k8s/overlays/prod")}\ncomponents:\n- ${relative("k8s/components/tracing")}\n`,
      );
      objects = render(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it("sends every process's spans and Envoy's to the collector the otel-collector Service names", () => {
    expect(validationProblems(objects)).toEqual([]);
    const collector = spec<{ type: string; externalName: string }>(byKind(objects, "Service", "otel-collector"));
    expect(collector.type).toBe("ExternalName");
    expect(collector.externalName).toMatch(/\.svc\.cluster\.local$/);
    const settings = onerouterConfig(objects);
    expect(settings.OTEL_TRACES_EXPORTER).toBe("otlp");
    // OTLP over HTTP (the services' exporter) to the Service; Envoy's cluster of that name speaks gRPC.
    expect(new URL(settings.OTEL_EXPORTER_OTLP_ENDPOINT!)).toMatchObject({ hostname: "otel-collector", port: "4318" });
    const envoy = parse(readFileSync(path.join(root, "envoy/envoy.yaml"), "utf8"));
    const cluster = (envoy.static_resources.clusters as { name: string; load_assignment: { endpoints: { lb_endpoints: { endpoint: { address: { socket_address: { address: string; port_value: number } } } }[] }[] } }[])
      .find((c) => c.name === "otel-collector")!;
    expect(cluster.load_assignment.endpoints[0]!.lb_endpoints[0]!.endpoint.address.socket_address).toEqual({ address: "otel-collector", port_value: 4317 });
  });
});

describe("k8s/components/monitoring (in prod)", () => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = render("k8s/overlays/prod");
  }, 120_000);

  // Metric names the alerts and the dashboard read, documented in k8s/README.md.
  const metricsIn = (expr: string) => [...expr.matchAll(/\b(onerouter_[a-z_]+?)(?:_bucket|_count|_sum)?\b(?![a-z_])/g)].map((m) => m[1]!);
  const documented = () => {
    const readme = readFileSync(path.join(root, "k8s/README.md"), "utf8");
    return new Set([...readme.matchAll(/^\| `(onerouter_[a-z_]+)`/gm)].map((m) => m[1]!));
  };

  it("alerts on the error rate, an open breaker, the delivery backlog and outbox lag", () => {
    const rule = byKind(objects, "PrometheusRule", "onerouter");
    const rules = spec<{ groups: { rules: { alert: string; expr: string; for: string }[] }[] }>(rule).groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert).sort()).toEqual(["OneRouterHighErrorRate", "OneRouterOutboxLag", "OneRouterProviderCircuitOpen", "OneRouterWebhookBacklog"]);
    const names = rules.flatMap((r) => metricsIn(r.expr));
    expect(new Set(names)).toEqual(new Set(["onerouter_rpc_requests_total", "onerouter_circuit_state", "onerouter_webhook_delivery_backlog", "onerouter_outbox_lag_seconds"]));
    const docs = documented();
    for (const name of names) expect(docs.has(name), `${name} documented in k8s/README.md`).toBe(true);
  });

  it("ships a Grafana dashboard whose every panel queries documented metrics", () => {
    const configMap = byKind(objects, "ConfigMap", "onerouter-dashboard");
    expect(configMap.metadata.labels?.grafana_dashboard).toBe("1");
    const dashboard = JSON.parse((configMap.data as Record<string, string>)["onerouter.json"]!) as {
      uid: string;
      panels: { title: string; targets: { expr: string }[] }[];
    };
    expect(dashboard.uid).toBe("onerouter-overview");
    const docs = documented();
    const used = new Set<string>();
    for (const panel of dashboard.panels) {
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets) {
        const names = metricsIn(target.expr);
        expect(names.length, panel.title).toBeGreaterThan(0);
        for (const name of names) {
          expect(docs.has(name), `${panel.title}: ${name} documented in k8s/README.md`).toBe(true);
          used.add(name);
        }
      }
    }
    // What a platform team expects to see beyond RPC counts.
    for (const name of ["onerouter_provider_call_duration_seconds", "onerouter_provider_failovers_total", "onerouter_idempotency_conflicts_total", "onerouter_outbox_lag_seconds", "onerouter_webhook_delivery_attempts_total", "onerouter_webhook_delivery_backlog", "onerouter_quota_rejections_total"]) {
      expect(used.has(name), name).toBe(true);
    }
  });

  it("documents, with the labels the code gives them, the metrics that exist already", () => {
    const readme = readFileSync(path.join(root, "k8s/README.md"), "utf8");
    const sources = readdirSync(path.join(root, "services"), { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && f.includes(`src${path.sep}`))
      .map((f) => readFileSync(path.join(root, "services", f), "utf8"))
      .join("\n");
    for (const [, name, labels] of sources.matchAll(/name: "(onerouter_[a-z_]+)",[^]*?labelNames: \[([^\]]*)\]/g)) {
      const row = readme.split("\n").find((line) => line.startsWith(`| \`${name}\``));
      expect(row, `${name} in k8s/README.md`).toBeDefined();
      for (const label of (labels!.match(/"([a-z_]+)"/g) ?? []).map((l) => l.slice(1, -1))) expect(row, `${name} label ${label}`).toContain(`\`${label}\``);
    }
  });
});
