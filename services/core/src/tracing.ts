import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type TextMapGetter, type TextMapSetter, type Tracer } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  AlwaysOnSampler,
  SamplingDecision,
  type ReadableSpan,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { ConfigError } from "./config";

// OpenTelemetry traces: W3C trace context is taken from each incoming call
// (Envoy's traceparent), carried through the process with the async context,
// into outbox events and on to webhook deliveries. Spans are recorded only
// when something takes them: an exporter named by the standard environment
// (OTEL_TRACES_EXPORTER, or OTEL_EXPORTER_OTLP_ENDPOINT for OTLP) or a span
// processor added in process; otherwise they carry ids and nothing more.

export interface ProcessTracing {
  // Spans from now on go to this processor too (an in-memory exporter in tests).
  addSpanProcessor(processor: SpanProcessor): void;
  // Exports what is buffered; a server closing calls it.
  flush(): Promise<void>;
}

let processTracing: ProcessTracing | undefined;

// Sets tracing up for the process on first call; later calls return the same.
// `env` is read then: the exporters and the service name.
export function startTracing(options: { serviceName?: string; env?: NodeJS.ProcessEnv } = {}): ProcessTracing {
  if (processTracing) return processTracing;
  const env = options.env ?? process.env;
  const processors = new SpanProcessors();
  for (const exporter of exportersFromEnv(env)) processors.add(new BatchSpanProcessor(exporter));
  const resource = defaultResource()
    .merge(resourceFromAttributes({ "service.name": options.serviceName ?? "onerouter" }))
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({ resource, sampler: new WhileTaken(processors), spanProcessors: [processors] });
  // The W3C traceparent/tracestate (and baggage) propagators, and the
  // AsyncLocalStorage context manager.
  provider.register();
  processTracing = {
    addSpanProcessor: (processor) => processors.add(processor),
    flush: () => provider.forceFlush(),
  };
  return processTracing;
}

function exportersFromEnv(env: NodeJS.ProcessEnv): SpanExporter[] {
  const otlpEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const names = (env.OTEL_TRACES_EXPORTER || (otlpEndpoint ? "otlp" : "none"))
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "" && name !== "none");
  return names.map((name) => {
    if (name === "otlp") return new OTLPTraceExporter();
    if (name === "console") return new ConsoleSpanExporter();
    throw new ConfigError("OTEL_TRACES_EXPORTER", `names ${JSON.stringify(name)}; use otlp, console or none`);
  });
}

// The processors spans go to; more may join after the provider is made.
class SpanProcessors implements SpanProcessor {
  readonly list: SpanProcessor[] = [];

  add(processor: SpanProcessor): void {
    this.list.push(processor);
  }

  onStart(span: Parameters<SpanProcessor["onStart"]>[0], parent: Context): void {
    for (const processor of this.list) processor.onStart(span, parent);
  }

  onEnd(span: ReadableSpan): void {
    for (const processor of this.list) processor.onEnd(span);
  }

  async forceFlush(): Promise<void> {
    await Promise.all(this.list.map((p) => p.forceFlush()));
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.list.map((p) => p.shutdown()));
  }
}

// Records spans (parent-based: a caller's "not sampled" is kept) only while
// some processor takes them; without one a span carries its ids only.
class WhileTaken implements Sampler {
  private readonly sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() });

  constructor(private readonly processors: SpanProcessors) {}

  shouldSample(...args: Parameters<Sampler["shouldSample"]>): ReturnType<Sampler["shouldSample"]> {
    if (this.processors.list.length === 0) return { decision: SamplingDecision.NOT_RECORD };
    return this.sampler.shouldSample(...args);
  }

  toString(): string {
    return "WhileTaken";
  }
}

// The tracer every OneRouter span comes from; a no-op until startTracing.
export const tracer: Tracer = trace.getTracer("onerouter");

const headerGetter: TextMapGetter<Headers> = {
  keys: (headers) => {
    const names: string[] = [];
    headers.forEach((_value, name) => names.push(name));
    return names;
  },
  get: (headers, key) => headers.get(key) ?? undefined,
};

const headerSetter: TextMapSetter<Headers> = {
  set: (headers, key, value) => headers.set(key, value),
};

// For a client: each call carries the active trace context (traceparent), so
// the service called continues the caller's trace instead of starting one.
export const traceContextInterceptor: Interceptor = (next) => (req) => {
  propagation.inject(context.active(), req.header, headerSetter);
  return next(req);
};

// Codes that mean the server failed, as OpenTelemetry's RPC conventions count them.
const serverErrors = new Set([Code.Unknown, Code.DeadlineExceeded, Code.Unimplemented, Code.Internal, Code.Unavailable, Code.DataLoss]);

// A server span per RPC, a child of the caller's traceparent when it sent
// one, active while the handler runs.
export const rpcTracingInterceptor: Interceptor = (next) => async (req) => {
  const parent = propagation.extract(ROOT_CONTEXT, req.header, headerGetter);
  const span = tracer.startSpan(
    `${req.service.typeName}/${req.method.name}`,
    { kind: SpanKind.SERVER, attributes: { "rpc.system": "connect_rpc", "rpc.service": req.service.typeName, "rpc.method": req.method.name } },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => next(req));
  } catch (err) {
    const code = ConnectError.from(err).code;
    span.setAttribute("rpc.connect_rpc.error_code", Code[code] ?? String(code));
    if (serverErrors.has(code)) span.setStatus({ code: SpanStatusCode.ERROR, message: Code[code] });
    throw err;
  } finally {
    span.end();
  }
};

// The active trace context as a W3C traceparent, to travel with an event;
// undefined when no span is active.
export function currentTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

// The context a traceparent carried in names as parent.
export function contextOfTraceparent(traceparent: string | null | undefined): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, { traceparent });
}

// Marks a span failed with what went wrong.
export function spanFailed(span: Span, message: string): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}
