import path from "node:path";
import type { Config } from "@onerouter/core/config";
import { openDatabase, type Database } from "@onerouter/core/database";

// The database every command and server opens. By core's database module
// alone, so a CLI command starts the embedded database before it loads the
// code that uses it, and the two go on side by side.

// A new embedded data folder starts from this tarball of every migration
// applied (when the build has made it) rather than from initdb.
export const pgliteTemplateFile = path.resolve(import.meta.dirname, "../dist/pglite-template.tgz");

export function openConfiguredDatabase(config: Config): Database {
  return openDatabase({ databaseUrl: config.databaseUrl, pgliteDir: path.join(config.dataDir, "pglite"), pgliteTemplate: pgliteTemplateFile });
}
