import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { build, type Plugin } from "esbuild";

// The `onerouter` CLI as JavaScript, so no command compiles TypeScript when it
// runs. The workspace's own code is bundled; every other package stays an
// import of node_modules (native and wasm packages find their files there).
// Commands load their code on demand, so `--version` and `--help` read little.
// Chunks are named by their content, so a rebuild over an old build leaves
// the old chunks unused beside the new ones.

export const serverRoot = path.resolve(import.meta.dirname, "..");
export const cliOutDir = path.join(serverRoot, "dist");

// Workspace code that finds files next to its source (the console's bundle,
// for one) keeps finding them from the bundle: its import.meta names the
// source file, relative to where the bundle lies (the code may land in the
// entry, in `outDir`, or in a chunk a folder below it).
function sourceLocations(outDir: string): Plugin {
  return {
    name: "source-locations",
    setup(builder) {
      builder.onLoad({ filter: /\.ts$/ }, (args) => {
        const text = readFileSync(args.path, "utf8");
        if (args.path.includes(`${path.sep}node_modules${path.sep}`) || !/import\.meta\.(url|dirname|filename)/.test(text)) return undefined;
        const fromBundle = path.relative(outDir, args.path).split(path.sep).join("/");
        const contents =
          `const __sourceUrl = new URL(${JSON.stringify(fromBundle)}, new URL(import.meta.url.includes("/${path.basename(outDir)}/chunks/") ? "../" : "./", import.meta.url));\n` +
          text
            .replace(/import\.meta\.url/g, "__sourceUrl.href")
            .replace(/import\.meta\.filename/g, "__sourcePath(__sourceUrl)")
            .replace(/import\.meta\.dirname/g, "__sourcePath(new URL(\".\", __sourceUrl))")
            .replace(/$/, '\nfunction __sourcePath(url: URL): string { return decodeURIComponent(url.pathname).replace(/\\/$/, ""); }\n');
        return { contents, loader: "ts" };
      });
    },
  };
}

// The database client packages, plain JavaScript in hundreds of files (knex
// alone requires lodash one function per file): a command on the data folder
// spent more time finding and reading them than running them. They are
// bundled, with what they import in turn; nothing outside the bundle shares
// their classes. What they import that is not installed (knex's other
// drivers, pg-native) is left to a require that never runs.
const bundledPackages = new Set(["knex", "knex-pglite", "pg"]);
// Left to Node even when a bundled package imports it: it finds its WebAssembly next to its code.
const neverBundled = new Set(["@electric-sql/pglite"]);

const packageName = (specifier: string) => specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/");

// Bare imports outside the workspace are left to Node, but for the bundled packages.
const thirdPartyExternal: Plugin = {
  name: "third-party-external",
  setup(builder) {
    builder.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.path.startsWith("@onerouter/") || args.pluginData === "resolving") return undefined;
      const name = packageName(args.path);
      const fromBundled = args.importer.includes(`${path.sep}node_modules${path.sep}`);
      if (neverBundled.has(name) || !(bundledPackages.has(name) || fromBundled)) return { path: args.path, external: true };
      const found = await builder.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: "resolving" });
      return found.errors.length > 0 || found.external ? { path: args.path, external: true } : { path: found.path };
    });
  },
};

// `entry` and the workspace code it imports as ES modules in `outDir`, as
// `<name>.js` with its chunks, the way the CLI is built.
export async function bundleForNode(name: string, entry: string, outDir: string): Promise<string> {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: { [name]: entry },
    outdir: outDir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20.19",
    // Same input, same output: chunk names are content hashes.
    chunkNames: "chunks/[name]-[hash]",
    sourcemap: "linked",
    logLevel: "warning",
    plugins: [thirdPartyExternal, sourceLocations(outDir)],
    // The bundled packages are CommonJS: their require of Node's modules and of what is left to Node.
    banner: { js: 'import { createRequire as __createRequire } from "node:module";\nconst require = __createRequire(import.meta.url);' },
  });
  writeFileSync(path.join(outDir, "package.json"), JSON.stringify({ type: "module" }) + "\n");
  return path.join(outDir, `${name}.js`);
}

export async function buildCli(): Promise<void> {
  await bundleForNode("cli", path.join(serverRoot, "src/cli.ts"), cliOutDir);
}

if (process.argv[1] === import.meta.filename) await buildCli();
