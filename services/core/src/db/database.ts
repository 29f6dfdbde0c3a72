import knexFactory, { type Knex } from "knex";
import ClientPgLite from "knex-pglite";
import pg from "pg";
import { startPGlite, type PGliteStartOptions, type StartedPGlite } from "./pglite-start";

export type { Knex };

// Postgres int8 comes back as a string by default; amounts are int64 and are
// handled as bigint in code, so keep the string and convert at the edge.
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => v);

export interface Migration {
  // Globally sortable: "<yyyymmdd>_<nnn>_<room>_<what>".
  name: string;
  up(knex: Knex): Promise<void>;
  down?(knex: Knex): Promise<void>;
}

export interface Database {
  knex: Knex;
  engine: "pglite" | "postgres";
  // A new PGlite folder (or memory) made from a template, whose migrations it holds already.
  createdFromTemplate: boolean;
  migrate(migrations: Migration[]): Promise<string[]>;
  // The names of `migrations` not applied yet, applying none.
  pendingMigrations(migrations: Migration[]): Promise<string[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions extends PGliteStartOptions {
  // postgres://... for a server; otherwise PGlite.
  databaseUrl?: string;
  // PGlite already started (startPGlite) on pgliteDir: the database uses it rather than starting its own.
  pglite?: StartedPGlite;
  poolMax?: number;
}

export function openDatabase(options: DatabaseOptions): Database {
  let knex: Knex;
  let engine: Database["engine"];
  let createdFromTemplate = false;
  if (options.databaseUrl) {
    engine = "postgres";
    knex = knexFactory({
      client: "pg",
      connection: options.databaseUrl,
      pool: { min: 0, max: options.poolMax ?? 10 },
    });
  } else {
    engine = "pglite";
    const started = options.pglite ?? startPGlite(options);
    createdFromTemplate = started.createdFromTemplate;
    const pglite = started.thread;
    knex = knexFactory({
      client: ClientPgLite,
      dialect: "postgres",
      connection: { pglite },
      // PGlite 0.5's Postgres, given so that opening the connection sends no
      // query, which would wait for the start within the pool's 30 s to open one.
      version: "18",
      // Its one connection is in this process: waiting for it is waiting for
      // this process's own statements, the database's start among them (a
      // first start may take minutes on a busy machine), never for a lost server.
      acquireConnectionTimeout: 10 * 60_000,
    } as Knex.Config);
  }
  const migrationSource = (migrations: Migration[]): Knex.MigrationSource<Migration> => {
    const sorted = [...migrations].sort((a, b) => a.name.localeCompare(b.name));
    return {
      getMigrations: async () => sorted,
      getMigrationName: (m) => m.name,
      getMigration: async (m) => ({ up: m.up, down: m.down ?? (async () => {}) }),
    };
  };
  return {
    knex,
    engine,
    createdFromTemplate,
    async migrate(migrations) {
      // Every start and command finds the schema current but the first after
      // an update: then one query says so, not the migrator's lock and listing.
      if (await appliedExactly(knex, migrations)) return [];
      const [, applied] = (await knex.migrate.latest({ migrationSource: migrationSource(migrations) })) as [number, string[]];
      return applied;
    },
    async pendingMigrations(migrations) {
      // A schema newer than this code (a rolling update) has nothing pending for it.
      const [, pending] = (await knex.migrate.list({
        migrationSource: migrationSource(migrations),
        disableMigrationsListValidation: true,
      })) as [unknown, Migration[]];
      return pending.map((m) => m.name);
    },
    async ping() {
      await knex.raw("select 1");
    },
    async close() {
      await knex.destroy();
    },
  };
}

// Whether the applied migrations are exactly `migrations`: none pending and
// none unknown (the migrator refuses a history it does not know).
async function appliedExactly(knex: Knex, migrations: Migration[]): Promise<boolean> {
  let applied: string[];
  try {
    applied = (await knex("knex_migrations").pluck("name")) as string[];
  } catch (err) {
    // No migrations table yet: a new database.
    if ((err as { code?: string }).code === "42P01") return false;
    throw err;
  }
  const known = new Set(migrations.map((m) => m.name));
  return applied.length === known.size && applied.every((name) => known.has(name));
}
