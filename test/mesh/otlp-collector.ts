import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { BinaryReader } from "@bufbuild/protobuf/wire";

// An OpenTelemetry collector's OTLP/HTTP trace endpoint (POST /v1/traces,
// protobuf), as the services' exporter reaches it when OTEL_EXPORTER_OTLP_ENDPOINT
// names it: it keeps each span's ids and name and the service that sent it.

export interface CollectedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
}

export interface OtlpCollector {
  url: string;
  spans: CollectedSpan[];
  close(): Promise<void>;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

// Calls `field` for each field of the message in `bytes`; what it does not read is skipped.
function eachField(bytes: Uint8Array, field: (fieldNo: number, reader: BinaryReader) => boolean): void {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (!field(fieldNo, reader)) reader.skip(wireType);
  }
}

// opentelemetry.proto.resource.v1.Resource's service.name attribute.
function serviceName(resource: Uint8Array): string {
  let name = "";
  eachField(resource, (fieldNo, reader) => {
    if (fieldNo !== 1) return false;
    let key = "";
    let value = "";
    eachField(reader.bytes(), (kvField, kv) => {
      if (kvField === 1) key = kv.string();
      else if (kvField === 2) eachField(kv.bytes(), (anyField, any) => anyField === 1 && ((value = any.string()), true));
      else return false;
      return true;
    });
    if (key === "service.name") name = value;
    return true;
  });
  return name;
}

// An ExportTraceServiceRequest's spans: resource_spans (1) → resource (1),
// scope_spans (2) → spans (2) → trace_id (1), span_id (2), parent_span_id (4), name (5).
export function spansOf(request: Uint8Array): CollectedSpan[] {
  const spans: CollectedSpan[] = [];
  eachField(request, (fieldNo, reader) => {
    if (fieldNo !== 1) return false;
    let service = "";
    const found: Omit<CollectedSpan, "service">[] = [];
    eachField(reader.bytes(), (resourceField, resourceSpans) => {
      if (resourceField === 1) service = serviceName(resourceSpans.bytes());
      else if (resourceField === 2) {
        eachField(resourceSpans.bytes(), (scopeField, scopeSpans) => {
          if (scopeField !== 2) return false;
          const span = { name: "", traceId: "", spanId: "", parentSpanId: "" };
          eachField(scopeSpans.bytes(), (spanField, r) => {
            if (spanField === 1) span.traceId = hex(r.bytes());
            else if (spanField === 2) span.spanId = hex(r.bytes());
            else if (spanField === 4) span.parentSpanId = hex(r.bytes());
            else if (spanField === 5) span.name = r.string();
            else return false;
            return true;
          });
          found.push(span);
          return true;
        });
      } else return false;
      return true;
    });
    spans.push(...found.map((span) => ({ service, ...span })));
    return true;
  });
  return spans;
}

export async function startOtlpCollector(): Promise<OtlpCollector> {
  const spans: CollectedSpan[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (req.method === "POST" && req.url === "/v1/traces") spans.push(...spansOf(Buffer.concat(chunks)));
      // An empty ExportTraceServiceResponse: everything accepted.
      res.writeHead(req.url === "/v1/traces" ? 200 : 404, { "content-type": "application/x-protobuf" });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
