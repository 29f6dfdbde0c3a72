import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

// A folder is a room: production code reaches another package only through
// the surface that package exports, never climbs to the composition root
// (`server`) or the provider stand-ins (`emulators`, which only the
// composition root's `dev` command runs), never imports a test kit, and the
// import graph has no circle. This walks the graph of every production file
// so those walls hold by test rather than by discipline.

const root = path.resolve(import.meta.dirname, "..");

interface Package {
  name: string;
  dir: string;
  exports: Record<string, string>;
  dependencies: string[];
  devDependencies: string[];
}

interface Manifest {
  name: string;
  exports?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

function readPackage(dir: string): Package {
  const manifest = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as Manifest;
  return {
    name: manifest.name,
    dir,
    exports: manifest.exports ?? {},
    dependencies: Object.keys(manifest.dependencies ?? {}),
    devDependencies: Object.keys(manifest.devDependencies ?? {}),
  };
}

const packages: Package[] = [
  readPackage(path.join(root, "clients/ts")),
  ...readdirSync(path.join(root, "services"))
    .map((name) => path.join(root, "services", name))
    .filter((dir) => existsSync(path.join(dir, "package.json")))
    .map(readPackage),
];
const packageByName = new Map(packages.map((p) => [p.name, p]));

function packageOf(file: string): Package | undefined {
  return packages.find((p) => file.startsWith(p.dir + path.sep));
}

function importsOf(file: string): string[] {
  return ts.preProcessFile(readFileSync(file, "utf8"), true, true).importedFiles.map((f) => f.fileName);
}

// A test kit: anything under a room's test/ folder or a testing/ folder, a
// testing module, or a module that needs vitest.
function isTestKit(file: string): boolean {
  const pkg = packageOf(file);
  if (pkg && file.startsWith(path.join(pkg.dir, "test") + path.sep)) return true;
  if (file.split(path.sep).includes("testing")) return true;
  const base = path.basename(file).replace(/\.tsx?$/, "");
  if (base === "testing" || base.endsWith(".testing")) return true;
  return importsOf(file).some((spec) => spec === "vitest" || spec.startsWith("vitest/"));
}

function resolveFile(candidate: string): string | undefined {
  for (const file of [candidate, `${candidate}.ts`, `${candidate}.tsx`, path.join(candidate, "index.ts")]) {
    if (existsSync(file) && statSync(file).isFile()) return file;
  }
  return undefined;
}

// The file a package subpath ("." or "./testing" or "./gen/...") maps to, or
// undefined where the package does not export it.
function resolveExport(pkg: Package, subpath: string): string | undefined {
  for (const [pattern, target] of Object.entries(pkg.exports)) {
    if (pattern === subpath) return resolveFile(path.join(pkg.dir, target));
    const star = pattern.indexOf("*");
    if (star >= 0 && subpath.startsWith(pattern.slice(0, star)) && subpath.endsWith(pattern.slice(star + 1))) {
      const middle = subpath.slice(star, subpath.length - (pattern.length - star - 1));
      return resolveFile(path.join(pkg.dir, target.replace("*", middle)));
    }
  }
  return undefined;
}

interface Arrow {
  from: string;
  spec: string;
  to?: string;
  problem?: string;
}

const rel = (file: string) => path.relative(root, file);

function arrowsFrom(file: string): Arrow[] {
  const own = packageOf(file)!;
  return importsOf(file).flatMap((spec): Arrow[] => {
    if (spec.startsWith(".")) {
      const to = resolveFile(path.resolve(path.dirname(file), spec));
      if (!to) return [{ from: file, spec, problem: "does not resolve" }];
      if (packageOf(to) !== own) return [{ from: file, spec, to, problem: "leaves its package" }];
      if (isTestKit(to)) return [{ from: file, spec, to, problem: "imports a test kit" }];
      return [{ from: file, spec, to }];
    }
    const match = /^(@onerouter\/[^/]+)(\/.*)?$/.exec(spec);
    if (!match) return [];
    const target = packageByName.get(match[1]!);
    if (!target) return [{ from: file, spec, problem: "names no package" }];
    const subpath = `.${match[2] ?? ""}`;
    if (subpath === "./testing") return [{ from: file, spec, problem: "imports a test kit" }];
    if (own === target) return [{ from: file, spec, problem: "imports its own package by name" }];
    if (target.name === "@onerouter/server") return [{ from: file, spec, problem: "imports the composition root" }];
    if (target.name === "@onerouter/emulators" && own.name !== "@onerouter/server") {
      return [{ from: file, spec, problem: "imports the provider emulators" }];
    }
    if (target !== own && !own.dependencies.includes(target.name)) return [{ from: file, spec, problem: `needs ${target.name} in dependencies` }];
    const to = resolveExport(target, subpath);
    if (!to) return [{ from: file, spec, problem: "is a path the package does not export" }];
    return [{ from: file, spec, to }];
  });
}

// Production code is what the product runs: every file reached from a
// package's entries (its exports other than "./testing", and the CLI).
// Files under src/ that only tests reach (connector harnesses) are kits.
const exportedFiles = packages.flatMap((pkg) =>
  Object.entries(pkg.exports)
    .filter(([, target]) => !target.includes("*"))
    .map(([subpath, target]) => ({ pkg, subpath, target, file: resolveFile(path.join(pkg.dir, target)) })),
);

function productionEntries(): string[] {
  const entries = exportedFiles.filter((e) => e.subpath !== "./testing" && e.file).map((e) => e.file!);
  return [...entries, path.join(root, "services/server/src/cli.ts")];
}

const productionFiles: string[] = [];
const arrows: Arrow[] = [];
for (const queue = productionEntries(), seen = new Set(queue); queue.length > 0; ) {
  const file = queue.shift()!;
  productionFiles.push(file);
  for (const arrow of arrowsFrom(file)) {
    arrows.push(arrow);
    if (arrow.to && !arrow.problem && !seen.has(arrow.to)) {
      seen.add(arrow.to);
      queue.push(arrow.to);
    }
  }
}

// Strongly connected components of more than one file (Tarjan), each a circle.
function circles(): string[][] {
  const next = new Map<string, string[]>();
  for (const arrow of arrows) if (arrow.to) next.set(arrow.from, [...(next.get(arrow.from) ?? []), arrow.to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let counter = 0;
  function visit(file: string) {
    index.set(file, counter);
    low.set(file, counter++);
    stack.push(file);
    onStack.add(file);
    for (const to of next.get(file) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(file, Math.min(low.get(file)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(file, Math.min(low.get(file)!, index.get(to)!));
      }
    }
    if (low.get(file) === index.get(file)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(rel(member));
      } while (member !== file);
      if (component.length > 1 || (next.get(file) ?? []).includes(file)) found.push(component.sort());
    }
  }
  for (const file of productionFiles) if (!index.has(file)) visit(file);
  return found;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (name === "node_modules") return [];
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

// Every @onerouter package a package's tests and kits import, declared in
// its dependencies or devDependencies.
function undeclaredInTests(): string[] {
  return packages.flatMap((pkg) =>
    filesUnder(pkg.dir)
      .filter((file) => /\.tsx?$/.test(file) && !file.includes(`${path.sep}gen${path.sep}`))
      .flatMap((file) =>
        importsOf(file)
          .map((spec) => /^@onerouter\/[^/]+/.exec(spec)?.[0])
          .filter((name): name is string => name !== undefined && name !== pkg.name)
          .filter((name) => !pkg.dependencies.includes(name) && !pkg.devDependencies.includes(name))
          .map((name) => `${rel(file)}: ${name} is not declared in ${rel(path.join(pkg.dir, "package.json"))}`),
      ),
  );
}

describe("the walls between rooms", () => {
  it("exports only files that exist", () => {
    expect(exportedFiles.filter((e) => !e.file).map((e) => `${e.pkg.name} "${e.subpath}": ${e.target}`)).toEqual([]);
  });

  it("finds the production code of every package", () => {
    for (const name of ["@onerouter/core", "@onerouter/routing", "@onerouter/payments", "@onerouter/messaging", "@onerouter/server"]) {
      expect(productionFiles.some((file) => packageOf(file)?.name === name), name).toBe(true);
    }
  });

  it("lets production code reach other packages only through their surface, never the server, the emulators or a test kit", () => {
    const broken = arrows.filter((a) => a.problem).map((a) => `${rel(a.from)}: "${a.spec}" ${a.problem}`);
    expect(broken).toEqual([]);
  });

  it("declares every @onerouter package a package imports", () => {
    expect(undeclaredInTests()).toEqual([]);
  });

  it("has no import circle in production code", () => {
    expect(circles()).toEqual([]);
  });
});
