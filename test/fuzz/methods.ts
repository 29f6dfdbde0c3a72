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

export async function allMethods(): Promise<DescMethod[]> {
  return (await allServices()).flatMap((s) => s.methods);
}

export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}
