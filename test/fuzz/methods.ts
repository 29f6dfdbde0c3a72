import { readdirSync } from "node:fs";
import path from "node:path";
import type { DescMethod, DescService } from "@bufbuild/protobuf";

// Every RPC the product serves, read from the generated service descriptors,
// so a new service or method is fuzzed without touching this suite.

const genRoot = path.resolve(import.meta.dirname, "../../clients/ts/src/gen");

function generatedFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return generatedFiles(full);
    return entry.name.endsWith("_pb.ts") ? [full] : [];
  });
}

export async function allServices(): Promise<DescService[]> {
  const services: DescService[] = [];
  for (const file of generatedFiles(genRoot)) {
    const exports = (await import(file)) as Record<string, unknown>;
    for (const value of Object.values(exports)) {
      if (typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "service") {
        services.push(value as DescService);
      }
    }
  }
  return services.sort((a, b) => a.typeName.localeCompare(b.typeName));
}

// Left out: bidirectional streams (server reflection, for grpcurl and
// grpcui), which the protocol runs on HTTP/2 only and no request check reads;
// and StreamEvents, which a valid request holds open for as long as the
// caller stays (stream-events.test.ts covers its refusals).
const unfuzzed = new Set(["onerouter.webhooks.v1.WebhookService.StreamEvents"]);

export async function allMethods(): Promise<DescMethod[]> {
  return (await allServices())
    .flatMap((s) => s.methods)
    .filter((m) => m.methodKind !== "bidi_streaming" && !unfuzzed.has(`${m.parent.typeName}.${m.name}`));
}

export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}
