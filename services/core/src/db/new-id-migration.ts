import { idAlphabet } from "../ids";
import type { Migration } from "./database";

// The database's own newId, for statements that create rows whose number
// only the statement knows (fan-out's deliveries, one per matching
// endpoint): the same text as ids.ts makes, 48 bits of milliseconds then 80
// random bits in base32. The random bits are a v4 UUID's, without its version
// and variant bits (its 7th and 9th bytes).
export const newIdFunction = "onerouter_new_id";

export const newIdFunctionMigration: Migration = {
  name: "20261210_100_core_new_id_function",
  async up(knex) {
    await knex.raw(`
      create or replace function ${newIdFunction}(prefix text) returns text language sql volatile as $fn$
        select prefix || '_' || string_agg(substr('${idAlphabet}', substring(bits from n * 5 + 1 for 5)::integer + 1, 1), '' order by n)
          from (select (('x' || encode(substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3 for 6)
                                       || substring(u from 1 for 6) || substring(u from 10 for 4), 'hex'))::bit(128) || b'00') as bits
                  from (select uuid_send(gen_random_uuid()) as u) random) id,
               generate_series(0, 25) n
      $fn$`);
  },
};
