import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createFileRegistry, fromBinary, type FileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

// Descriptor registries built with buf from .proto sources: Envoy's API as
// @grpc/grpc-js-xds ships it, and OneRouter's own contracts.

export const root = path.resolve(import.meta.dirname, "../..");
const buf = path.join(root, "node_modules/.bin/buf");
const xdsDeps = path.join(root, "node_modules/@grpc/grpc-js-xds/deps");

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

// `buf build <input...>` run in cwd, its image written to scratch.
function bufBuild(cwd: string, scratch: string, input: string[]): FileRegistry {
  const image = path.join(scratch, "image.binpb");
  const result = spawnSync(buf, ["build", ...input, "-o", image], { cwd, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`buf build failed:\n${result.stderr}`);
  // A buf image is wire-compatible with a FileDescriptorSet.
  return createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(image)));
}

// Files whose imports (OpenCensus, OpenTelemetry, Prometheus protos) are not
// shipped in deps/; nothing in envoy/ uses them, and a type left out of the
// registry makes the check fail rather than pass.
const unshippedImports = [
  /opencensus/,
  /^envoy\/config\/trace\/v3\/trace\.proto$/,
  /^envoy\/extensions\/access_loggers\/open_telemetry\/v3\/logs_service\.proto$/,
  /^envoy\/service\/(metrics|trace)\/v3\//,
];

// Every v3 message of Envoy's API, with xds/udpa, googleapis and
// protoc-gen-validate. The shipped validate.proto predates the envoy-api
// beside it (which sets StringRules.ignore_empty, field 26 upstream), so the
// build uses a copy with that one field added.
export function envoyRegistry(): FileRegistry {
  const workspace = mkdtempSync(path.join(os.tmpdir(), "envoy-protos-"));
  try {
    for (const module of ["envoy-api", "xds", "googleapis"]) {
      symlinkSync(path.join(xdsDeps, module), path.join(workspace, module));
    }
    mkdirSync(path.join(workspace, "pgv/validate"), { recursive: true });
    const validate = readFileSync(path.join(xdsDeps, "protoc-gen-validate/validate/validate.proto"), "utf8");
    const strict = "optional bool strict = 25 [default = true];";
    if (!validate.includes(strict) || validate.includes("ignore_empty")) {
      throw new Error("deps/protoc-gen-validate changed: revisit the ignore_empty patch");
    }
    writeFileSync(
      path.join(workspace, "pgv/validate/validate.proto"),
      validate.replace(strict, `${strict}\n  optional bool ignore_empty = 26;`),
    );
    writeFileSync(
      path.join(workspace, "buf.yaml"),
      "version: v2\nmodules:\n  - path: envoy-api\n  - path: xds\n  - path: googleapis\n  - path: pgv\n",
    );
    const apiRoot = path.join(xdsDeps, "envoy-api");
    const v3 = filesUnder(path.join(apiRoot, "envoy"))
      .map((file) => path.relative(apiRoot, file))
      .filter((file) => /\/v3\/[^/]+\.proto$/.test(file) && !unshippedImports.some((skip) => skip.test(file)));
    return bufBuild(workspace, workspace, v3.flatMap((file) => ["--path", `envoy-api/${file}`]));
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
}

// OneRouter's contracts, as buf builds them from proto/.
export function oneRouterRegistry(): FileRegistry {
  const scratch = mkdtempSync(path.join(os.tmpdir(), "onerouter-protos-"));
  try {
    return bufBuild(root, scratch, ["proto"]);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
