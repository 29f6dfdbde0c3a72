import { ensurePgliteTemplate } from "@onerouter/core";
import { allMigrations, pgliteTemplateFile } from "../src/app";

// The embedded database's template for a fast first start: every migration
// applied, nothing per install (see core's pglite-template.ts). Remade only
// when the migrations or PGlite changed.
export async function buildPgliteTemplate(): Promise<void> {
  await ensurePgliteTemplate(pgliteTemplateFile, allMigrations);
}

if (process.argv[1] === import.meta.filename) await buildPgliteTemplate();
