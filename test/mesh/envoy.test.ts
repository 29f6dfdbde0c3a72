import { readFileSync } from "node:fs";
import path from "node:path";
import { fromJson, toJson, type DescMessage, type FileRegistry, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { messagingConnectors } from "@onerouter/messaging";
import { paymentConnectors } from "@onerouter/payments";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { envoyRegistry, oneRouterRegistry, root } from "./protos";
import { ValidateRules } from "./validate-rules";

// envoy/envoy.yaml, decoded the way Envoy decodes it: proto3 JSON against
// Envoy's own protos, unknown fields refused, every typed_config Any decoded
// as the type it names (a type missing from the registry fails). Then the
// edge's promises: identity cannot be forged, the gatekeeper is asked and
// fails closed, every OneRouter service has its route, only reads are
// retried after a request may have been received.

const bootstrapPath = path.join(root, "envoy/envoy.yaml");

// The headers that carry the gatekeeper's answer to the services
// (envoy/README.md): a client's values must never reach a service.
const identityHeaders = [
  "x-onerouter-tenant-id",
  "x-onerouter-environment",
  "x-onerouter-actor",
  "x-onerouter-api-key-id",
  "x-onerouter-member-id",
  "x-onerouter-member-role",
  "x-onerouter-session-id",
  "x-onerouter-scopes",
  "x-onerouter-plan",
  "x-onerouter-client-address",
  "x-onerouter-mesh-secret",
];

const filterOrder = [
  "envoy.filters.http.health_check",
  "envoy.filters.http.cors",
  "envoy.filters.http.header_mutation",
  "envoy.filters.http.grpc_web",
  "envoy.filters.http.ext_authz",
  "envoy.filters.http.ratelimit",
  "envoy.filters.http.router",
];

// Retries that may resend a request the service already received.
const afterReceipt = ["reset", "unavailable", "gateway-error", "5xx", "retriable-status-codes", "cancelled", "deadline-exceeded", "internal", "resource-exhausted"];

let registry: FileRegistry;
let bootstrapSchema: DescMessage;

// Decodes as Envoy does, then checks the protoc-gen-validate rules Envoy
// enforces at load; returns the canonical JSON (camelCase) of what was
// decoded: what Envoy runs.
function decode(document: unknown): JsonObject {
  const message = fromJson(bootstrapSchema, document as JsonValue, { registry });
  const broken = new ValidateRules(registry).check(message, "bootstrap");
  if (broken.length > 0) throw new Error(`validation rules broken:\n${broken.join("\n")}`);
  return toJson(bootstrapSchema, message, { registry }) as JsonObject;
}

const obj = (value: JsonValue | undefined): JsonObject => {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error(`not an object: ${JSON.stringify(value)}`);
  return value;
};
const list = (value: JsonValue | undefined): JsonObject[] => ((value ?? []) as JsonValue[]).map(obj);

// Every Any in the decoded config, wherever it sits.
function anyTypes(value: JsonValue | undefined, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) value.forEach((item) => anyTypes(item, found));
  else if (value !== null && typeof value === "object") {
    if (typeof value["@type"] === "string") found.add(value["@type"]);
    Object.values(value).forEach((item) => anyTypes(item, found));
  }
  return found;
}

describe("envoy/envoy.yaml", () => {
  let config: JsonObject;
  let hcm: JsonObject;
  let filters: JsonObject[];
  let host: JsonObject;
  let clusters: Map<string, JsonObject>;

  const filter = (name: string) => obj(filters.find((f) => f.name === name)?.typedConfig);
  // Envoy's first-match routing for a request path (no header matchers are used).
  const routeFor = (requestPath: string): JsonObject => {
    const path = requestPath.split("?")[0]!;
    const route = list(host.routes).find(({ match }) => {
      const m = obj(match);
      return m.path === path || (typeof m.prefix === "string" && path.startsWith(m.prefix));
    });
    if (!route) throw new Error(`no route for ${requestPath}`);
    return route;
  };
  const perRoute = (route: JsonObject, filterName: string) => obj(route.typedPerFilterConfig ?? {})[filterName] as JsonObject | undefined;
  const skipsApiFilters = (route: JsonObject) =>
    perRoute(route, "envoy.filters.http.ext_authz")?.disabled === true &&
    perRoute(route, "envoy.filters.http.ratelimit")?.vhRateLimits === "IGNORE";

  beforeAll(() => {
    registry = envoyRegistry();
    bootstrapSchema = registry.getMessage("envoy.config.bootstrap.v3.Bootstrap")!;
    config = decode(parse(readFileSync(bootstrapPath, "utf8")));
    const listeners = list(obj(config.staticResources).listeners);
    expect(listeners).toHaveLength(1);
    const networkFilters = list(list(listeners[0]!.filterChains)[0]!.filters);
    hcm = obj(networkFilters.find((f) => f.name === "envoy.filters.network.http_connection_manager")?.typedConfig);
    filters = list(hcm.httpFilters);
    const hosts = list(obj(hcm.routeConfig).virtualHosts);
    expect(hosts).toHaveLength(1);
    host = hosts[0]!;
    clusters = new Map(list(obj(config.staticResources).clusters).map((c) => [c.name as string, c]));
  }, 120_000);

  describe("decoding is strict", () => {
    it("refuses an unknown field inside a nested typed_config", () => {
      const document = parse(readFileSync(bootstrapPath, "utf8"));
      const extAuthz = document.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters.find(
        (f: { name: string }) => f.name === "envoy.filters.http.ext_authz",
      );
      extAuthz.typed_config.failure_mode_alow = true;
      expect(() => decode(document)).toThrow(/failure_mode_alow/);
    });

    it("refuses a typed_config of a type Envoy does not have", () => {
      const document = parse(readFileSync(bootstrapPath, "utf8"));
      document.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config["@type"] =
        "type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheckk";
      expect(() => decode(document)).toThrow(/HealthCheckk/);
    });

    it("refuses what Envoy's validation rules refuse, inside typed_configs too", () => {
      const document = parse(readFileSync(bootstrapPath, "utf8"));
      const hcmConfig = document.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
      const rateLimit = hcmConfig.http_filters.find((f: { name: string }) => f.name === "envoy.filters.http.ratelimit");
      rateLimit.typed_config.domain = "";
      delete rateLimit.typed_config.rate_limit_service;
      const headerMutation = hcmConfig.http_filters.find((f: { name: string }) => f.name === "envoy.filters.http.header_mutation");
      headerMutation.typed_config.mutations.request_mutations[0] = {};
      document.static_resources.clusters[0].connect_timeout = "0s";
      const message = () => decode(document);
      expect(message).toThrow(/http_filters\[\d\]\.typed_config\.domain must have at least 1 characters/);
      expect(message).toThrow(/typed_config\.rate_limit_service is required/);
      expect(message).toThrow(/request_mutations\[0\]: one of remove, append is required/);
      expect(message).toThrow(/clusters\[0\]\.connect_timeout must be > 0/);
    });

    it("decodes every typed_config as a type of Envoy's API", () => {
      const types = [...anyTypes(config)].map((url) => url.replace("type.googleapis.com/", ""));
      for (const type of types) expect(registry.getMessage(type), type).toBeDefined();
      expect(types).toEqual(
        expect.arrayContaining([
          "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
          "envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
          "envoy.extensions.filters.http.ratelimit.v3.RateLimit",
          "envoy.extensions.filters.http.grpc_web.v3.GrpcWeb",
          "envoy.extensions.filters.http.cors.v3.Cors",
          "envoy.config.route.v3.CorsPolicy",
          "envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
          "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
          "envoy.config.trace.v3.OpenTelemetryConfig",
        ]),
      );
    });
  });

  it("runs the HTTP filters in an order where identity is stripped before the gatekeeper sets it", () => {
    expect(filters.map((f) => f.name)).toEqual(filterOrder);
  });

  it("drops every identity header a client sends, and never returns the mesh secret", () => {
    const removed = list(obj(filter("envoy.filters.http.header_mutation").mutations).requestMutations).map((m) => m.remove);
    expect(removed.sort()).toEqual([...identityHeaders].sort());
    expect(obj(hcm.routeConfig).responseHeadersToRemove).toContain("x-onerouter-mesh-secret");
    // Rate-limit descriptors read only what the gatekeeper set (or the path).
    const headers = list(host.rateLimits).flatMap((limit) =>
      list(limit.actions).flatMap((action) => (action.requestHeaders ? [obj(action.requestHeaders).headerName as string] : [])),
    );
    expect(headers.filter((h) => h !== ":path").every((h) => identityHeaders.includes(h))).toBe(true);
    expect(headers).toContain("x-onerouter-tenant-id");
  });

  it("asks the gatekeeper over gRPC and fails closed when it cannot answer", () => {
    const extAuthz = filter("envoy.filters.http.ext_authz");
    expect(obj(obj(extAuthz.grpcService).envoyGrpc).clusterName).toBe("gatekeeper");
    expect(extAuthz.transportApiVersion).toBe("V3");
    expect(extAuthz.failureModeAllow ?? false).toBe(false);
    expect(extAuthz.failureModeAllowHeaderAdd ?? false).toBe(false);
    const sent = list(obj(extAuthz.allowedHeaders).patterns).map((p) => p.exact);
    expect(sent).toEqual(expect.arrayContaining(["authorization", "cookie", "onerouter-environment"]));

    const rateLimit = filter("envoy.filters.http.ratelimit");
    expect(rateLimit.failureModeDeny).toBe(true);
    // "external" would skip callers Envoy counts as internal (private addresses).
    expect(rateLimit.requestType).toBe("both");
    const service = obj(rateLimit.rateLimitService);
    expect(service.transportApiVersion).toBe("V3");
    expect(obj(obj(service.grpcService).envoyGrpc).clusterName).toBe("gatekeeper");
    expect(rateLimit.domain).toBe("onerouter");
  });

  it("routes every method of every service in proto/ to its service, authenticated, with its timeout", () => {
    const contracts = oneRouterRegistry();
    const services = [...contracts].filter((d) => d.kind === "service");
    expect(services.length).toBeGreaterThanOrEqual(11);
    for (const service of services) {
      // onerouter.<area>.v1: each area is one service process.
      const area = service.typeName.split(".")[1]!;
      for (const method of service.methods) {
        const rpcPath = `/${service.typeName}/${method.name}`;
        const route = routeFor(rpcPath);
        const action = obj(route.route);
        expect(action.cluster, rpcPath).toBe(area);
        expect(action.timeout, rpcPath).toMatch(/^\d+s$/);
        expect(skipsApiFilters(route), rpcPath).toBe(false);
        expect(perRoute(route, "envoy.filters.http.ext_authz"), rpcPath).toBeUndefined();
        // Connect's GET for reads carries the request in the query string.
        expect(routeFor(`${rpcPath}?encoding=proto&message=CgA`), rpcPath).toBe(route);

        const retryOn = String(obj(action.retryPolicy).retryOn ?? "").split(",");
        expect(retryOn, rpcPath).toContain("connect-failure");
        if (method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS) {
          expect(retryOn, `${rpcPath} is a read: retried on any transport failure`).toEqual(expect.arrayContaining(["reset", "unavailable"]));
        } else {
          expect(retryOn.filter((on) => afterReceipt.includes(on)), `${rpcPath} may change state: never resent`).toEqual([]);
        }
      }
    }
  });

  it("sends each provider's webhooks to the room that owns them, without ext_authz or API limits", () => {
    const owners = [
      { cluster: "payments", providers: paymentConnectors().map((r) => r.connector.name) },
      { cluster: "messaging", providers: messagingConnectors().map((r) => r.connector.name) },
    ];
    for (const { cluster, providers } of owners) {
      expect(providers.length).toBeGreaterThan(1);
      for (const provider of providers) {
        const route = routeFor(`/webhooks/inbound/${provider}/pa_0123456789`);
        expect(obj(route.route).cluster, provider).toBe(cluster);
        expect(skipsApiFilters(route), provider).toBe(true);
        const retryOn = String(obj(obj(route.route).retryPolicy).retryOn).split(",");
        expect(retryOn.filter((on) => afterReceipt.includes(on)), provider).toEqual([]);
      }
    }
    // A name that is no provider's is not routed anywhere.
    expect(routeFor("/webhooks/inbound/nobody/pa_0123456789").directResponse).toMatchObject({ status: 404 });
  });

  it("routes CSV downloads to the admin service, authenticated, for as long as they stream", () => {
    const route = routeFor("/exports/payments.csv?start_time=2026-11-01T00:00:00Z");
    expect(obj(route.route).cluster).toBe("admin");
    expect(skipsApiFilters(route)).toBe(false);
    expect(obj(route.route).timeout).toBe("0s");
  });

  it("serves the console's static bundle from the admin service without asking for a key", () => {
    for (const asset of ["/console/", "/console/index.html", "/console/assets/index-abc123.js"]) {
      const route = routeFor(asset);
      expect(obj(route.route).cluster).toBe("admin");
      expect(skipsApiFilters(route)).toBe(true);
    }
    expect(obj(routeFor("/console").redirect).pathRedirect).toBe("/console/");
  });

  it("answers CORS for the console's origin and grpc-web's headers", () => {
    const policy = obj(obj(host.typedPerFilterConfig)["envoy.filters.http.cors"]);
    expect(list(policy.allowOriginStringMatch).length).toBeGreaterThan(0);
    expect(policy.allowCredentials).toBe(true);
    const allowed = String(policy.allowHeaders).split(/,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(["authorization", "connect-protocol-version", "x-grpc-web", "idempotency-key"]));
    const exposed = String(policy.exposeHeaders).split(/,\s*/);
    expect(exposed).toEqual(expect.arrayContaining(["grpc-status", "grpc-message", "retry-after"]));
  });

  it("reaches every service over HTTP/2 with gRPC health checks", () => {
    const routed = new Set(list(host.routes).flatMap((r) => (r.route ? [obj(r.route).cluster as string] : [])));
    const used = new Set([...routed, "gatekeeper", "otel-collector"]);
    expect([...clusters.keys()].sort()).toEqual([...used].sort());
    for (const [name, cluster] of clusters) {
      // The collector is no OneRouter service: spans to it are dropped while it is away.
      if (name === "otel-collector") continue;
      const options = obj(obj(cluster.typedExtensionProtocolOptions)["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]);
      expect(obj(options.explicitHttpConfig).http2ProtocolOptions, name).toBeDefined();
      const checks = list(cluster.healthChecks);
      expect(checks.map((c) => c.grpcHealthCheck).filter(Boolean), name).toHaveLength(1);
      expect(cluster.type, name).toBe("STRICT_DNS");
    }
    const gatekeeperCheck = obj(list(clusters.get("gatekeeper")!.healthChecks)[0]!.grpcHealthCheck);
    expect(gatekeeperCheck.serviceName).toBe("envoy.service.auth.v3.Authorization");
    // The edge is ready only while a gatekeeper is: no call can pass without one.
    const health = filter("envoy.filters.http.health_check");
    expect(obj(health.clusterMinHealthyPercentages).gatekeeper).toBeDefined();
  });

  it("starts a trace for every request without one and sends its spans over OTLP/gRPC to the collector's cluster", () => {
    const tracing = obj(hcm.tracing);
    expect(obj(tracing.randomSampling).value).toBeGreaterThan(0);
    const provider = obj(tracing.provider);
    expect(provider.name).toBe("envoy.tracers.opentelemetry");
    const tracer = obj(provider.typedConfig);
    expect(tracer["@type"]).toBe("type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig");
    expect(tracer.serviceName).toBe("onerouter-edge");
    const exportTo = obj(obj(tracer.grpcService).envoyGrpc).clusterName as string;
    const collector = clusters.get(exportTo)!;
    const options = obj(obj(collector.typedExtensionProtocolOptions)["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]);
    expect(obj(options.explicitHttpConfig).http2ProtocolOptions).toBeDefined();
    const endpoint = obj(obj(obj(list(list(obj(collector.loadAssignment).endpoints)[0]!.lbEndpoints)[0]!.endpoint).address).socketAddress);
    // The name k8s/components/tracing gives the collector, and OTLP/gRPC's port.
    expect(endpoint).toMatchObject({ address: "otel-collector", portValue: 4317 });
    // The gatekeeper sees the trace Envoy passes on.
    expect(list(obj(filter("envoy.filters.http.ext_authz").allowedHeaders).patterns).map((p) => p.exact)).toContain("traceparent");
  });

  it("logs every request as JSON, with its trace, the gatekeeper's tenant and no credentials", () => {
    const logs = list(hcm.accessLog);
    expect(logs).toHaveLength(1);
    const format = obj(obj(obj(logs[0]!.typedConfig).logFormat).jsonFormat);
    expect(format).toMatchObject({
      trace_id: "%TRACE_ID%",
      status: "%RESPONSE_CODE%",
      grpc_status: "%GRPC_STATUS%",
      tenant_id: "%REQ(X-ONEROUTER-TENANT-ID)%",
    });
    const logged = JSON.stringify(format).toLowerCase();
    for (const secret of ["authorization", "cookie", "mesh-secret"]) expect(logged).not.toContain(secret);
  });

  it("keeps the admin API off the network", () => {
    expect(obj(obj(obj(config.admin).address).socketAddress).address).toBe("127.0.0.1");
  });
});
