import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { changeNoticeSetting } from "./change-notice-setting";
import { PGliteThread } from "./pglite-thread";

// PGlite keeps Postgres's server defaults, sized for a machine of its own:
// 128 MB of shared buffers, allocated and touched at start. One embedded
// process's data is read through the OS's page cache beyond this.
const embeddedSettings = ["shared_buffers=16MB", "maintenance_work_mem=16MB"];
// A command's few statements need few buffers, and zeroing 16 MB of them was
// a tenth of its start. 128 of them leave room for any statement's pins.
const shortLivedSettings = [...embeddedSettings, "shared_buffers=1MB", `${changeNoticeSetting}=off`];

export interface PGliteStartOptions {
  // PGlite folder; unset means in memory.
  pgliteDir?: string;
  // A PGlite data folder's tarball that a new folder (or memory) starts
  // from instead of running initdb: see pglite-template.ts.
  pgliteTemplate?: string;
  // The process runs a few statements and exits (a CLI command), rather than
  // serving, and listens for no change notices: it sends none either.
  shortLived?: boolean;
}

export interface StartedPGlite {
  thread: PGliteThread;
  // A new folder (or memory) made from the template, whose migrations it holds already.
  createdFromTemplate: boolean;
}

// Starts the embedded database in its thread. This file loads no knex or
// pg, so a command starts the database first and loads the code that uses
// it while the database starts (openDatabase's `pglite`).
export function startPGlite(options: PGliteStartOptions): StartedPGlite {
  if (options.pgliteDir) mkdirSync(path.dirname(path.resolve(options.pgliteDir)), { recursive: true });
  const fresh = !options.pgliteDir || !existsSync(path.join(options.pgliteDir, "PG_VERSION"));
  const template = fresh && options.pgliteTemplate && existsSync(options.pgliteTemplate) ? options.pgliteTemplate : undefined;
  return {
    thread: new PGliteThread({
      dataDir: options.pgliteDir,
      templateFile: template,
      settings: options.shortLived ? shortLivedSettings : embeddedSettings,
    }),
    createdFromTemplate: template !== undefined,
  };
}
