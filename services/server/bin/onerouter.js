#!/usr/bin/env node
// Runs the CLI's JavaScript build (dist/), made by `npm ci` (the root
// package's prepare script) from services/server/build/cli.ts.
import { existsSync } from "node:fs";

const cli = new URL("../dist/cli.js", import.meta.url);
if (!existsSync(cli)) {
  console.error(
    "onerouter: the CLI is not built (services/server/dist/cli.js is missing).\n" +
      "Run `npm ci` in the repository, or `npm run build --workspace @onerouter/server`.",
  );
  process.exit(1);
}
await import(cli.href);
