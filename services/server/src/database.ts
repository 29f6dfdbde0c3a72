import type { Config } from "@onerouter/core/config";
import { openDatabase, type Database } from "@onerouter/core/database";
import type { StartedPGlite } from "@onerouter/core/pglite-start";
import { pgliteFolder, pgliteTemplateFile } from "./pglite-start";

export { pgliteTemplateFile } from "./pglite-start";

// The database every command and server opens; on an embedded folder, with
// the PGlite a command started before loading this (startConfiguredPGlite).
export function openConfiguredDatabase(config: Config, pglite?: StartedPGlite): Database {
  return openDatabase({ databaseUrl: config.databaseUrl, pgliteDir: pgliteFolder(config), pgliteTemplate: pgliteTemplateFile, pglite });
}
