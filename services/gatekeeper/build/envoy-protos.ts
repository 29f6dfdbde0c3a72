import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

// Generates src/gen from Envoy's ext_authz and rate-limit service protos
// (with what they import), as @grpc/grpc-js-xds ships them in deps/, so the
// gatekeeper serves Envoy with typed messages and needs no .proto at run
// time. Run with `npm run generate:envoy -w @onerouter/gatekeeper`.

const gatekeeper = path.resolve(import.meta.dirname, "..");
const root = path.resolve(gatekeeper, "../..");
const deps = path.join(root, "node_modules/@grpc/grpc-js-xds/deps");
const services = ["envoy/service/auth/v3/external_auth.proto", "envoy/service/ratelimit/v3/rls.proto"];

const workspace = mkdtempSync(path.join(os.tmpdir(), "envoy-protos-"));
try {
  const modules = ["envoy-api", "xds", "googleapis", "protoc-gen-validate"];
  for (const module of modules) symlinkSync(path.join(deps, module), path.join(workspace, module));
  writeFileSync(path.join(workspace, "buf.yaml"), `version: v2\nmodules:\n${modules.map((m) => `  - path: ${m}\n`).join("")}`);
  writeFileSync(
    path.join(workspace, "buf.gen.yaml"),
    [
      "version: v2",
      "clean: true",
      "plugins:",
      `  - local: ${path.join(root, "node_modules/.bin/protoc-gen-es")}`,
      `    out: ${path.join(gatekeeper, "src/gen")}`,
      "    include_imports: true",
      "    opt: [target=ts]",
      "",
    ].join("\n"),
  );
  const result = spawnSync(
    path.join(root, "node_modules/.bin/buf"),
    ["generate", ...services.flatMap((file) => ["--path", `envoy-api/${file}`])],
    { cwd: workspace, stdio: "inherit" },
  );
  if (result.status !== 0) process.exit(result.status ?? 1);
} finally {
  rmSync(workspace, { recursive: true, force: true });
}
