import type { Knex } from "knex";
import type { Logger } from "../logging";

// PGlite runs Postgres as a standalone backend, which has no autovacuum
// daemon: left alone, nothing ever vacuums or analyzes the embedded
// database. Dead rows and their index entries would stay for good, so reads
// slow down as the data grows; the planner would never have statistics, so a
// prepared statement's plan made on a nearly empty table is kept however the
// table grows; and after about two billion transactions Postgres would refuse
// writes to protect itself from wraparound. This does the daemon's work with
// its rules and settings (the autovacuum_* thresholds, scale factors and
// freeze age, defaults unless set): each round it vacuums the tables with
// enough dead or newly inserted rows or too old a frozen xid, and analyzes
// those changed enough since their last analyze. A table at a time, so the
// statements of requests get their turn on the database's one connection in
// between, and a round stops starting tables once it has run for its
// budget: the database runs one statement at a time, so the first rounds
// over a folder never maintained would otherwise hold requests up for long.

export interface TableUpkeep {
  table: string;
  vacuum: boolean;
  analyze: boolean;
}

// Postgres's own test for each table (autovacuum.c's relation_needs_vacanalyze;
// a table never analyzed counts as empty, as there), as how far past each
// threshold the table is (a threshold set to nothing counts as one row), so
// the tables most in need go first.
const tablesDueSql = `
  with thresholds as (
    select s.schemaname || '.' || s.relname as "table",
           s.n_dead_tup / greatest(current_setting('autovacuum_vacuum_threshold')::float8
                           + current_setting('autovacuum_vacuum_scale_factor')::float8 * greatest(c.reltuples, 0), 1) as dead,
           s.n_ins_since_vacuum / greatest(current_setting('autovacuum_vacuum_insert_threshold')::float8
                           + current_setting('autovacuum_vacuum_insert_scale_factor')::float8 * greatest(c.reltuples, 0), 1) as inserted,
           age(c.relfrozenxid) / current_setting('autovacuum_freeze_max_age')::float8 as xid_age,
           s.n_mod_since_analyze / greatest(current_setting('autovacuum_analyze_threshold')::float8
                           + current_setting('autovacuum_analyze_scale_factor')::float8 * greatest(c.reltuples, 0), 1) as modified
      from pg_stat_user_tables s
      join pg_class c on c.oid = s.relid
  )
  select "table", dead > 1 or inserted > 1 or xid_age > 1 as vacuum, modified > 1 as analyze
    from thresholds
   where dead > 1 or inserted > 1 or xid_age > 1 or modified > 1
   order by xid_age > 1 desc, greatest(dead, inserted, modified) desc, "table"`;

// Postgres's autovacuum_naptime.
const naptimeMs = 60_000;
// A round starts no table after this long; the rest are left to the next rounds.
const roundBudgetMs = 100;

export class PGliteAutovacuum {
  private timer: NodeJS.Timeout | undefined;
  // The round under way, if any: a round still running when the next is due
  // (one long vacuum) makes that one skip.
  private running: Promise<unknown> | undefined;
  private stopping = false;

  constructor(
    private readonly knex: Knex,
    private readonly logger: Logger,
    private readonly options: { intervalMs?: number; roundBudgetMs?: number } = {},
  ) {}

  // Rounds run every interval from now; the first after one, so a start is not slowed.
  start(): void {
    if (this.timer) return;
    this.stopping = false;
    this.timer = setInterval(() => {
      this.running ??= this.round()
        .catch((err: unknown) => this.logger.error({ err }, "vacuuming the embedded database failed"))
        .finally(() => (this.running = undefined));
    }, this.options.intervalMs ?? naptimeMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.stopping = true;
    await this.running;
  }

  // The tables due now, and what each is due for.
  async due(): Promise<TableUpkeep[]> {
    // The backend's counts since it last reported them (it may not have, for
    // a statement run prepared in PGlite), reported at the end of this one.
    await this.knex.raw("select pg_stat_force_next_flush()");
    const { rows } = (await this.knex.raw(tablesDueSql)) as { rows: TableUpkeep[] };
    return rows;
  }

  // One round: what was done to which tables.
  async round(): Promise<TableUpkeep[]> {
    const started = performance.now();
    const done: TableUpkeep[] = [];
    const budgetMs = this.options.roundBudgetMs ?? roundBudgetMs;
    for (const upkeep of await this.due()) {
      if (this.stopping || performance.now() - started > budgetMs) break;
      if (upkeep.vacuum) await this.knex.raw(upkeep.analyze ? "vacuum (analyze) ??" : "vacuum ??", [upkeep.table]);
      else await this.knex.raw("analyze ??", [upkeep.table]);
      done.push(upkeep);
    }
    if (done.length > 0) {
      this.logger.debug(
        { vacuumed: done.filter((t) => t.vacuum).map((t) => t.table), analyzed: done.filter((t) => t.analyze).map((t) => t.table), ms: Math.round(performance.now() - started) },
        "vacuumed and analyzed the embedded database's tables that were due",
      );
    }
    return done;
  }
}
