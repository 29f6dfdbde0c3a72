import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import knexFactory from "knex";
import { describe, inject } from "vitest";
import { openDatabase, type Database } from "../src/db/database";
import { ensurePgliteTemplate } from "../src/db/pglite-template";

// Runs a storage suite against both engines the product ships with: PGlite
// (embedded mode) and a real Postgres server (mesh mode). Each suite gets a
// database of its own.
export const storageEngines = ["pglite", "postgres"] as const;

export type StorageEngine = (typeof storageEngines)[number];

export async function createTestDatabase(engine: StorageEngine): Promise<Database> {
  if (engine === "pglite") return openDatabase({ pgliteTemplate: await freshClusterTemplate() });
  return openDatabase({ databaseUrl: await createTestDatabaseUrl() });
}

// A PGlite database just past initdb, kept on this machine between runs, so
// each test database is loaded from it rather than running initdb (seconds
// on a busy machine). Made once per process at most, and only when missing
// or of another PGlite.
let freshCluster: Promise<string> | undefined;
export function freshClusterTemplate(): Promise<string> {
  const file = path.join(os.tmpdir(), "onerouter-test-pglite-template.tgz");
  freshCluster ??= ensurePgliteTemplate(file, []).then(() => file);
  return freshCluster;
}

// A fresh, empty database on the suite's Postgres server.
export async function createTestDatabaseUrl(): Promise<string> {
  const serverUrl = inject("postgresUrl");
  const name = `onerouter_test_${randomBytes(6).toString("hex")}`;
  const admin = knexFactory({ client: "pg", connection: serverUrl, pool: { min: 0, max: 1 } });
  await admin.raw(`create database ${name}`);
  await admin.destroy();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export function postgresAvailable(): boolean {
  return inject("postgresUrl") !== "";
}

export function describeEachEngine(title: string, body: (engine: StorageEngine) => void) {
  for (const engine of storageEngines) {
    const run = engine === "pglite" || postgresAvailable() ? describe : describe.skip;
    run(`${title} [${engine}]`, () => body(engine));
  }
}
