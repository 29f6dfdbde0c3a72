import type { Knex } from "@onerouter/core";
import { addRollupStripe, latencyBucketCount, latencyBucketSql, rollupStripeSql, utcHourSql } from "@onerouter/core/migrations";

// What analytics read about a room's attempts, kept by the database in the
// transaction that records them (see core's rollups): per hour and provider
// account, the finished attempts, their successes, a latency histogram and
// the failovers onto the account; per hour, provider and normalized error,
// the failed attempts; and a log of every failover. The room that owns the
// `<parent>_attempts` table creates these tables in a migration of its own.
// The two rollups are striped by attempt id (see core's rollups), the
// failover onto an attempt counted in that attempt's stripe.

export interface AttemptRollupOptions {
  // As in AttemptTableOptions: "payment" → payment_attempts, payment_id.
  parent: string;
  // Statuses whose outcome is not known yet.
  open: readonly string[];
  // Finished statuses that count as a success.
  successful: readonly string[];
}

export function attemptRollupTables(parent: string) {
  return { rollups: `${parent}_attempt_rollups`, errors: `${parent}_error_rollups`, failovers: `${parent}_failovers` };
}

function sqlList(values: readonly string[]): string {
  return values.map((v) => `'${v.replaceAll("'", "''")}'`).join(", ");
}

export async function createAttemptRollups(knex: Knex, options: AttemptRollupOptions): Promise<void> {
  const { parent } = options;
  const attempts = `${parent}_attempts`;
  const { rollups, errors, failovers } = attemptRollupTables(parent);
  await knex.schema.createTable(rollups, (t) => {
    t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
    t.text("environment").notNullable();
    t.timestamp("hour", { useTz: true }).notNullable();
    t.text("provider").notNullable();
    t.text("provider_account_id").notNullable();
    t.bigInteger("attempts").notNullable().defaultTo(0);
    t.bigInteger("successes").notNullable().defaultTo(0);
    t.bigInteger("failovers").notNullable().defaultTo(0);
    t.specificType("latency_buckets", "integer[]").notNullable().defaultTo(knex.raw(`array_fill(0, array[${latencyBucketCount}])`));
    t.primary(["tenant_id", "environment", "hour", "provider_account_id", "provider"]);
  });
  await knex.schema.createTable(errors, (t) => {
    t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
    t.text("environment").notNullable();
    t.timestamp("hour", { useTz: true }).notNullable();
    t.text("provider").notNullable();
    t.text("reason").notNullable();
    t.text("provider_code").notNullable();
    t.bigInteger("errors").notNullable().defaultTo(0);
    t.primary(["tenant_id", "environment", "hour", "provider", "reason", "provider_code"]);
  });
  await knex.schema.createTable(failovers, (t) => {
    // The attempt routing moved to.
    t.text("to_attempt_id").primary();
    t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
    t.text("environment").notNullable();
    t.text(`${parent}_id`).notNullable();
    t.text("from_attempt_id").notNullable();
    t.text("from_provider").notNullable();
    t.text("from_provider_account_id").notNullable();
    t.text("to_provider").notNullable();
    t.text("to_provider_account_id").notNullable();
    t.text("reason").notNullable();
    t.text("provider_code").notNullable();
    t.timestamp("created_at", { useTz: true }).notNullable();
    t.index(["tenant_id", "environment", "created_at", "to_attempt_id"]);
  });
  // The tables have no stripes until the room's striped_rollups migration.
  await createAttemptRollupTrigger(knex, options, false);
  await rebuild(knex, options, false);
}

const rollupKey = ["tenant_id", "environment", "hour", "provider_account_id", "provider"];
const errorKey = ["tenant_id", "environment", "hour", "provider", "reason", "provider_code"];

// Gives the rollups created by createAttemptRollups their stripes.
export async function stripeAttemptRollups(knex: Knex, options: AttemptRollupOptions): Promise<void> {
  const { rollups, errors } = attemptRollupTables(options.parent);
  await addRollupStripe(knex, rollups, rollupKey);
  await addRollupStripe(knex, errors, errorKey);
  await createAttemptRollupTrigger(knex, options, true);
}

// Makes the striped rollups' trigger again, as the code now writes it.
export async function replaceAttemptRollupTrigger(knex: Knex, options: AttemptRollupOptions): Promise<void> {
  await createAttemptRollupTrigger(knex, options, true);
}

async function createAttemptRollupTrigger(knex: Knex, options: AttemptRollupOptions, striped: boolean): Promise<void> {
  const { parent } = options;
  const attempts = `${parent}_attempts`;
  const { rollups, errors, failovers } = attemptRollupTables(parent);
  const key = [...rollupKey, ...(striped ? ["stripe"] : [])].join(", ");
  const errorKeyColumns = [...errorKey, ...(striped ? ["stripe"] : [])].join(", ");
  const stripe = striped ? `, ${rollupStripeSql("new.id")}` : "";
  const hour = utcHourSql("new.created_at");
  await knex.raw(`
    create or replace function ${rollups}_track() returns trigger language plpgsql as $fn$
    declare
      previous ${attempts};
      bucket integer;
      success integer;
    begin
      if tg_op = 'INSERT' then
        select * into previous from ${attempts}
         where ${parent}_id = new.${parent}_id and id <> new.id
         order by created_at desc, id desc limit 1;
        if found then
          insert into ${failovers} (to_attempt_id, tenant_id, environment, ${parent}_id, from_attempt_id, from_provider,
            from_provider_account_id, to_provider, to_provider_account_id, reason, provider_code, created_at)
          values (new.id, new.tenant_id, new.environment, new.${parent}_id, previous.id, previous.provider,
            previous.provider_account_id, new.provider, new.provider_account_id,
            coalesce(previous.error->>'reason', ''), coalesce(previous.error->>'providerCode', ''), new.created_at);
          insert into ${rollups} as t (${key}, failovers)
          values (new.tenant_id, new.environment, ${hour}, new.provider_account_id, new.provider${stripe}, 1)
          on conflict (${key}) do update set failovers = t.failovers + 1;
        end if;
        return null;
      end if;
      if old.status not in (${sqlList(options.open)}) or new.status in (${sqlList(options.open)}) then
        return null;
      end if;
      bucket := ${latencyBucketSql("new.latency_ms")};
      success := case when new.status in (${sqlList(options.successful)}) then 1 else 0 end;
      -- An update, and an insert only for the hour's first attempt in the
      -- stripe: an upsert alone builds the new row's histogram (a one in the
      -- attempt's bucket between two runs of zeros) even when the row is
      -- there, and that cost as much as the rest of the update.
      update ${rollups} as t set attempts = t.attempts + 1, successes = t.successes + success,
        latency_buckets[bucket] = t.latency_buckets[bucket] + 1
       where (${key}) = (new.tenant_id, new.environment, ${hour}, new.provider_account_id, new.provider${stripe});
      if not found then
        insert into ${rollups} as t (${key}, attempts, successes, latency_buckets)
        values (new.tenant_id, new.environment, ${hour}, new.provider_account_id, new.provider${stripe}, 1, success,
          array_fill(0, array[bucket - 1]) || 1 || array_fill(0, array[${latencyBucketCount} - bucket]))
        on conflict (${key}) do update set attempts = t.attempts + 1, successes = t.successes + excluded.successes,
          latency_buckets[bucket] = t.latency_buckets[bucket] + 1;
      end if;
      if success = 0 and new.error is not null then
        insert into ${errors} as t (${errorKeyColumns}, errors)
        values (new.tenant_id, new.environment, ${hour}, new.provider,
          coalesce(new.error->>'reason', ''), coalesce(new.error->>'providerCode', '')${stripe}, 1)
        on conflict (${errorKeyColumns}) do update set errors = t.errors + 1;
      end if;
      return null;
    end $fn$`);
  await knex.raw(`drop trigger if exists ${rollups}_track on ${attempts}`);
  await knex.raw(`create trigger ${rollups}_track after insert or update of status on ${attempts} for each row execute function ${rollups}_track()`);
}

// Recomputes the three from every attempt, set-based: for attempts recorded
// before the rollups existed, or loaded in bulk with triggers off.
export async function rebuildAttemptRollups(knex: Knex, options: AttemptRollupOptions): Promise<void> {
  await rebuild(knex, options, true);
}

async function rebuild(knex: Knex, options: AttemptRollupOptions, striped: boolean): Promise<void> {
  const { parent } = options;
  const attempts = `${parent}_attempts`;
  const { rollups, errors, failovers } = attemptRollupTables(parent);
  const hour = utcHourSql("a.created_at");
  const finished = `a.status not in (${sqlList(options.open)})`;
  const succeeded = `a.status in (${sqlList(options.successful)})`;
  // Without stripes every attempt counts as stripe 0, which is not stored.
  const stripeOf = (id: string) => (striped ? rollupStripeSql(id) : "0");
  const stripeColumn = striped ? ", stripe" : "";
  for (const table of [rollups, errors, failovers]) await knex.raw(`delete from ${table}`);
  await knex.raw(`
    insert into ${failovers} (to_attempt_id, tenant_id, environment, ${parent}_id, from_attempt_id, from_provider,
      from_provider_account_id, to_provider, to_provider_account_id, reason, provider_code, created_at)
    select a.id, a.tenant_id, a.environment, a.${parent}_id, p.id, p.provider, p.provider_account_id, a.provider,
      a.provider_account_id, coalesce(p.error->>'reason', ''), coalesce(p.error->>'providerCode', ''), a.created_at
    from (select *, lag(id) over (partition by ${parent}_id order by created_at, id) as previous_id from ${attempts}) a
    join ${attempts} p on p.id = a.previous_id`);
  await knex.raw(`
    with per_bucket as (
      select a.tenant_id, a.environment, ${hour} as hour, a.provider_account_id, a.provider, ${stripeOf("a.id")} as stripe,
        ${latencyBucketSql("a.latency_ms")} as bucket, count(*) as attempts,
        count(*) filter (where ${succeeded}) as successes
      from ${attempts} a where ${finished}
      group by 1, 2, 3, 4, 5, 6, 7
    ), finished as (
      select tenant_id, environment, hour, provider_account_id, provider, stripe, sum(attempts) as attempts,
        sum(successes) as successes, jsonb_object_agg(bucket, attempts) as histogram
      from per_bucket
      group by 1, 2, 3, 4, 5, 6
    ), moved as (
      select f.tenant_id, f.environment, ${utcHourSql("f.created_at")} as hour, f.to_provider_account_id as provider_account_id,
        f.to_provider as provider, ${stripeOf("f.to_attempt_id")} as stripe, count(*) as failovers
      from ${failovers} f group by 1, 2, 3, 4, 5, 6
    )
    insert into ${rollups} (tenant_id, environment, hour, provider_account_id, provider${stripeColumn}, attempts, successes, failovers, latency_buckets)
    select coalesce(f.tenant_id, m.tenant_id), coalesce(f.environment, m.environment), coalesce(f.hour, m.hour),
      coalesce(f.provider_account_id, m.provider_account_id), coalesce(f.provider, m.provider)${striped ? ", coalesce(f.stripe, m.stripe)" : ""},
      coalesce(f.attempts, 0), coalesce(f.successes, 0), coalesce(m.failovers, 0),
      array(select coalesce((f.histogram->>i::text)::integer, 0) from generate_series(1, ${latencyBucketCount}) i order by i)
    from finished f full join moved m using (tenant_id, environment, hour, provider_account_id, provider, stripe)`);
  await knex.raw(`
    insert into ${errors} (tenant_id, environment, hour, provider, reason, provider_code${stripeColumn}, errors)
    select a.tenant_id, a.environment, ${hour}, a.provider, coalesce(a.error->>'reason', ''), coalesce(a.error->>'providerCode', '')${striped ? `, ${stripeOf("a.id")}` : ""}, count(*)
    from ${attempts} a where ${finished} and not (${succeeded}) and a.error is not null
    group by ${striped ? "1, 2, 3, 4, 5, 6, 7" : "1, 2, 3, 4, 5, 6"}`);
}
