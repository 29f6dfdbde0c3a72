import path from "node:path";
import type { Config } from "@onerouter/core/config";
import { startPGlite, type StartedPGlite } from "@onerouter/core/pglite-start";

// The embedded database's start, apart from database.ts: a CLI command
// starts it first, and PGlite starts in its thread while this one loads knex
// and the code that uses the database.

// A new embedded data folder starts from this tarball of every migration
// applied (when the build has made it) rather than from initdb.
export const pgliteTemplateFile = path.resolve(import.meta.dirname, "../dist/pglite-template.tgz");

export function pgliteFolder(config: Config): string {
  return path.join(config.dataDir, "pglite");
}

// For a command that runs its statements and exits; undefined when the
// configuration names a Postgres server.
export function startConfiguredPGlite(config: Config): StartedPGlite | undefined {
  return config.databaseUrl ? undefined : startPGlite({ pgliteDir: pgliteFolder(config), pgliteTemplate: pgliteTemplateFile, shortLived: true });
}
