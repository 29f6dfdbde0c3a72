// Builds the package as published: ES modules and .d.ts files in dist/,
// with a package.json of their own, so `npm pack clients/ts/dist` (or
// `npm publish clients/ts/dist`) ships JavaScript, while this workspace keeps
// using the TypeScript sources directly.
import { execFileSync } from "node:child_process";
import { copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const here = import.meta.dirname;
const dist = path.join(here, "dist");
const require = createRequire(import.meta.url);

rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", path.join(here, "tsconfig.build.json")], {
  stdio: "inherit",
});

// Node's ES module loader needs the file extension that TypeScript's
// "Bundler" resolution lets the sources leave out.
const relativeSpecifier = /((?:from|import)\s*\(?\s*")(\.{1,2}\/[^"]+?)(?<!\.js)(")/g;
for (const file of readdirSync(dist, { recursive: true, encoding: "utf8" })) {
  if (!file.endsWith(".js") && !file.endsWith(".d.ts")) continue;
  const full = path.join(dist, file);
  writeFileSync(full, readFileSync(full, "utf8").replace(relativeSpecifier, "$1$2.js$3"));
}

const workspace = JSON.parse(readFileSync(path.join(here, "package.json"), "utf8"));
const root = JSON.parse(readFileSync(path.join(here, "../../package.json"), "utf8"));
const rootVersion = (name) => root.dependencies[name] ?? root.devDependencies[name];
const manifest = {
  name: workspace.name,
  version: workspace.version,
  description: workspace.description,
  license: workspace.license,
  type: "module",
  // Every module only declares things: bundlers may drop whatever is not imported.
  sideEffects: false,
  exports: {
    ".": { types: "./index.d.ts", default: "./index.js" },
    "./gen/*": { types: "./gen/*.d.ts", default: "./gen/*.js" },
  },
  engines: root.engines,
  dependencies: Object.fromEntries(
    ["@bufbuild/protobuf", "@connectrpc/connect", "@connectrpc/connect-web"].map((name) => [name, rootVersion(name)]),
  ),
  // Only protocol "grpc" loads it, and only in Node.
  peerDependencies: { "@connectrpc/connect-node": rootVersion("@connectrpc/connect-node") },
  peerDependenciesMeta: { "@connectrpc/connect-node": { optional: true } },
};
writeFileSync(path.join(dist, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
copyFileSync(path.join(here, "README.md"), path.join(dist, "README.md"));
