import { existsSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import { build } from "esbuild";
import { beforeAll, describe, expect, it } from "vitest";
import { imageProcessSettings } from "../../bench/built";
import { render } from "./kubernetes";
import { root } from "./protos";

// The Dockerfile cannot be built here (no Docker), so its structure is
// checked: stages, a non-root final stage with production dependencies only,
// the console's bundle, and an image that agrees with what k8s/ runs. What
// the final stage's `npm ci --omit=dev` leaves out is checked for real:
// every package the CLI reaches must be a production dependency.

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  const logical = text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  for (const line of logical) {
    const [keyword, ...rest] = line.split(/\s+/);
    const upper = keyword!.toUpperCase();
    const value = rest.join(" ");
    if (upper === "ARG" && stages.length === 0) {
      const [name, defaultValue] = value.split("=");
      args.set(name!, defaultValue ?? "");
    } else if (upper === "FROM") {
      const [image, as, name] = value.split(/\s+/);
      const from = image!.replace(/\$\{(\w+)\}/g, (_, arg: string) => args.get(arg) ?? "");
      expect(as?.toUpperCase(), line).toBe("AS");
      stages.push({ name: name!, from, instructions: [] });
    } else {
      stages.at(-1)!.instructions.push({ keyword: upper, args: value });
    }
  }
  return { args, stages };
}

const packageName = (spec: string) => (spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!);

// Third-party packages the CLI (every `onerouter` command) loads, found by
// bundling it from its entry with everything outside the workspace external.
async function packagesTheCliLoads(): Promise<string[]> {
  const found = new Set<string>();
  await build({
    entryPoints: [path.join(root, "services/server/bin/onerouter.js"), path.join(root, "services/server/src/cli.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    write: false,
    logLevel: "silent",
    outdir: "unused",
    plugins: [
      {
        name: "third-party",
        setup(builder) {
          builder.onResolve({ filter: /^[^./]/ }, (args) => {
            if (args.path.startsWith("@onerouter/")) return undefined;
            if (!args.path.startsWith("node:") && !builtinModules.includes(args.path)) found.add(packageName(args.path));
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });
  return [...found].sort();
}

describe("Dockerfile", () => {
  let stages: Stage[];
  let runtime: Stage;
  const runs = (stage: Stage) => stage.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args);

  beforeAll(() => {
    stages = parseDockerfile(readFileSync(path.join(root, "Dockerfile"), "utf8")).stages;
    runtime = stages.at(-1)!;
  });

  it("builds in stages and runs on the Node the project requires", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const engines = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).engines.node as string;
    const [major, minor] = /(\d+)\.(\d+)/.exec(engines)!.slice(1).map(Number);
    for (const stage of stages) {
      const tag = /^node:(\d+)\.(\d+)/.exec(stage.from) ?? /^(\w+)$/.exec(stage.from);
      expect(tag, `${stage.name} FROM ${stage.from}`).not.toBeNull();
      if (stage.from.startsWith("node:")) {
        const [, m, n] = tag!.map(Number);
        expect(m! > major! || (m === major && n! >= minor!), stage.from).toBe(true);
      } else {
        expect(stages.map((s) => s.name), `${stage.name} builds on an earlier stage`).toContain(stage.from);
      }
    }
  });

  it("installs production dependencies only in the final stage, and every package the CLI loads is one", async () => {
    const installs = runs(runtime).filter((r) => /\bnpm (ci|install|i)\b/.test(r));
    expect(installs).toHaveLength(1);
    expect(installs[0]).toMatch(/\bnpm ci\b[^&]*--omit=dev/);

    const lock = JSON.parse(readFileSync(path.join(root, "package-lock.json"), "utf8")).packages as Record<string, { dev?: boolean; devOptional?: boolean }>;
    const loaded = await packagesTheCliLoads();
    expect(loaded).toEqual(expect.arrayContaining(["@connectrpc/connect", "knex", "pg", "pino-pretty"]));
    for (const name of loaded) {
      const entry = lock[`node_modules/${name}`];
      expect(entry, `${name} is in package-lock.json`).toBeDefined();
      expect(entry!.dev || entry!.devOptional || false, `${name} is installed by npm ci --omit=dev`).toBe(false);
    }
  }, 60_000);

  it("ships the console's static bundle, built in an earlier stage", () => {
    const copy = runtime.instructions.find((i) => i.keyword === "COPY" && i.args.includes("services/console/dist"));
    expect(copy?.args).toMatch(/^--from=(\S+) \/app\/services\/console\/dist \.\/services\/console\/dist$/);
    const builder = stages.find((s) => s.name === /--from=(\S+)/.exec(copy!.args)![1]);
    expect(runs(builder!).join(" ")).toMatch(/npm run build --workspace services\/console/);
  });

  it.skipIf(!existsSync(path.join(root, "services/console/package.json")))("finds a build script in the console's workspace", () => {
    const console = JSON.parse(readFileSync(path.join(root, "services/console/package.json"), "utf8"));
    expect(console.scripts?.build).toBeTruthy();
  });

  it("runs as the non-root user k8s/ expects, the CLI as its entry point", () => {
    const users = runtime.instructions.filter((i) => i.keyword === "USER");
    expect(users).toHaveLength(1);
    const user = users[0]!;
    const [uid, gid] = user.args.split(":").map(Number);
    expect(uid).toBeGreaterThan(0);
    expect(gid).toBeGreaterThan(0);
    // Nothing runs as root after the switch, and the code stays root's.
    const index = runtime.instructions.indexOf(user);
    expect(runtime.instructions.slice(index + 1).filter((i) => ["RUN", "COPY", "ADD"].includes(i.keyword))).toEqual([]);
    expect(runtime.instructions.filter((i) => i.keyword === "COPY" && i.args.includes("--chown"))).toEqual([]);

    const entrypoint = JSON.parse(runtime.instructions.find((i) => i.keyword === "ENTRYPOINT")!.args) as string[];
    expect(entrypoint).toEqual(["node", "services/server/bin/onerouter.js"]);
    expect(existsSync(path.join(root, entrypoint[1]!))).toBe(true);
    expect(JSON.parse(runtime.instructions.find((i) => i.keyword === "CMD")!.args)).toEqual(["start"]);
    expect(runtime.instructions.find((i) => i.keyword === "EXPOSE")?.args).toBe("8080");

    for (const overlay of ["dev", "prod"]) {
      for (const object of render(`k8s/overlays/${overlay}`).filter((o) => ["Deployment", "Job"].includes(o.kind))) {
        const pod = (object.spec as { template: { spec: { securityContext: { runAsUser: number; runAsGroup: number }; containers: { name: string; args: string[] }[] } } }).template.spec;
        if (pod.containers[0]!.name !== "onerouter") continue;
        expect([pod.securityContext.runAsUser, pod.securityContext.runAsGroup], object.metadata.name).toEqual([uid, gid]);
      }
    }
  }, 60_000);

  it("preloads the jemalloc its runtime stage installs, as the benchmarks measure it", () => {
    const preloadAt = runtime.instructions.findIndex((i) => i.keyword === "ENV" && /\bLD_PRELOAD=/.test(i.args));
    const installAt = runtime.instructions.findIndex((i) => i.keyword === "RUN" && /\bapt-get install\b.*\blibjemalloc2\b/.test(i.args));
    expect(/\bLD_PRELOAD=(\S+)/.exec(runtime.instructions[preloadAt]?.args ?? "")?.[1]).toBe("libjemalloc.so.2");
    expect(installAt).toBeGreaterThanOrEqual(0);
    // Set after the install, so no step of the build runs with a preload it lacks.
    expect(installAt).toBeLessThan(preloadAt);
    expect(imageProcessSettings().LD_PRELOAD).toBe("libjemalloc.so.2");
  });

  it("keeps the data folder where k8s/ mounts it", () => {
    const env = runtime.instructions.filter((i) => i.keyword === "ENV").map((i) => i.args).join(" ");
    expect(env).toMatch(/ONEROUTER_DATA_DIR=\/var\/lib\/onerouter\b/);
    const payments = render("k8s/overlays/prod").find((o) => o.kind === "Deployment" && o.metadata.name === "payments")!;
    const container = (payments.spec as { template: { spec: { containers: { volumeMounts: { mountPath: string }[] }[] } } }).template.spec.containers[0]!;
    expect(container.volumeMounts.map((m) => m.mountPath)).toContain("/var/lib/onerouter");
  });

  it("leaves the host's installs, builds, secrets and history out of the build context", () => {
    const ignored = readFileSync(path.join(root, ".dockerignore"), "utf8").split("\n").map((l) => l.trim());
    expect(ignored).toEqual(expect.arrayContaining(["**/node_modules", "**/dist", ".git", ".env", "data/"]));
  });
});
