import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { openDatabase, type Migration } from "./database";
import type { PGliteThread } from "./pglite-thread";

// A new PGlite database spends most of its first start in initdb and in
// applying every migration. A template is a tarball of a database that has
// done both (PGlite's dumpDataDir), made once ahead of time; a new data
// folder is loaded from it instead (openDatabase's pgliteTemplate), and
// migrations then run as usual, so anything newer than the template still
// applies. A template holds the schema only: no tenant, key or secret,
// which each install creates on its first start.

interface TemplateStamp {
  pglite: string;
  migrations: string[];
}

function pgliteVersion(): string {
  const entry = createRequire(import.meta.url).resolve("@electric-sql/pglite");
  const manifest = JSON.parse(readFileSync(path.join(path.dirname(entry), "..", "package.json"), "utf8")) as { version: string };
  return manifest.version;
}

function readStamp(file: string): TemplateStamp | undefined {
  try {
    return JSON.parse(readFileSync(`${file}.json`, "utf8")) as TemplateStamp;
  } catch {
    return undefined;
  }
}

// Writes `file` (a gzipped tarball) and its stamp `file`.json, unless they
// already hold a template of these migrations made by this PGlite. Returns
// whether it wrote them. Written under temporary names and renamed, so a
// reader sees a whole template or none. `base`, another template, is where
// it starts instead of initdb.
export async function ensurePgliteTemplate(file: string, migrations: Migration[], base?: string): Promise<boolean> {
  const stamp: TemplateStamp = { pglite: pgliteVersion(), migrations: migrations.map((m) => m.name).sort() };
  if (JSON.stringify(readStamp(file)) === JSON.stringify(stamp)) return false;
  const db = openDatabase({ pgliteTemplate: base });
  let tarball: Blob;
  try {
    if (migrations.length > 0) await db.migrate(migrations);
    tarball = await (db.knex.client as { pglite: PGliteThread }).pglite.dumpDataDir("gzip");
  } finally {
    await db.close();
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(temp, Buffer.from(await tarball.arrayBuffer()));
  writeFileSync(`${temp}.json`, JSON.stringify(stamp) + "\n");
  renameSync(temp, file);
  renameSync(`${temp}.json`, `${file}.json`);
  return true;
}
