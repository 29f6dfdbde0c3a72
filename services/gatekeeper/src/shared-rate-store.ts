import { Code } from "@connectrpc/connect";
import { apiError, TableRetention, type Knex, type Logger } from "@onerouter/core";
import { bucketDecision, type FailureCounter, type Rate, type RateDecision, type RateOutcome, type RateRequest, type RateStore } from "./rate-limiter";

export const rateBucketsTable = "gatekeeper_rate_buckets";

// Prunes buckets no call has touched for a day: callers come and go (client
// addresses above all), and a bucket that comes back starts full.
export function rateBucketRetention(knex: Knex, logger: Logger, intervalMs?: number): TableRetention {
  return new TableRetention(
    knex,
    logger,
    { table: rateBucketsTable, rows: "rate buckets untouched for a day", key: "key", timeColumn: "updated_at" },
    { retentionDays: 1, intervalMs },
  );
}

interface BucketRow {
  key: string;
  tokens: number;
  elapsed_ms: number;
}

// Token buckets in Postgres, so every gatekeeper replica spends from one
// budget. A call's buckets are locked together (in one order, so two calls
// never wait on each other) and either all give a token or none does. The
// database's clock refills them, so replicas' clocks do not matter. When the
// store cannot answer, no call passes: RATE_LIMITER_UNAVAILABLE. Buckets
// untouched for a day are pruned (see rateBucketRetention); one that comes
// back starts full.
export class SharedRateStore implements RateStore {
  constructor(private readonly knex: Knex) {}

  // Failed authentications counted in these buckets, under their own keys.
  failureCounter(rate: Rate): FailureCounter {
    const keyOf = (address: string) => `failed_authentication:${address}`;
    return {
      check: (address) => this.unavailableOnError(() => this.peek(keyOf(address), rate)),
      charge: (address) => this.unavailableOnError(() => this.charge(keyOf(address), rate)),
    };
  }

  // What a bucket holds now, spending nothing; a bucket not stored yet is full.
  private async peek(key: string, rate: Rate): Promise<RateDecision> {
    const row = (await this.knex(rateBucketsTable)
      .where({ key })
      .first("tokens", this.knex.raw("extract(epoch from clock_timestamp() - updated_at) * 1000 as elapsed_ms"))) as BucketRow | undefined;
    const tokens = row ? Math.min(rate.burst, Number(row.tokens) + (Math.max(0, Number(row.elapsed_ms)) / 1000) * rate.ratePerSecond) : rate.burst;
    return bucketDecision(tokens, rate, tokens >= 1);
  }

  // Spends a token even when there is none (the bucket goes into debt), in
  // one statement, so concurrent charges from any replica all count.
  private async charge(key: string, rate: Rate): Promise<void> {
    await this.knex.raw(
      `insert into ?? as b (key, tokens, updated_at) values (?, ?, clock_timestamp())
       on conflict (key) do update set
         tokens = least(?::double precision, b.tokens + extract(epoch from clock_timestamp() - b.updated_at) * ?::double precision) - 1,
         updated_at = clock_timestamp()`,
      [rateBucketsTable, key, rate.burst - 1, rate.burst, rate.ratePerSecond],
    );
  }

  private async unavailableOnError<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch {
      throw limiterUnavailable();
    }
  }

  async take(requests: readonly RateRequest[]): Promise<RateOutcome> {
    const keys = [...new Set(requests.map((r) => r.key))].sort();
    try {
      return await this.knex.transaction(async (trx) => {
        const fullAt = new Map(requests.map((r) => [r.key, r.rate.burst]));
        await trx(rateBucketsTable)
          .insert(keys.map((key) => ({ key, tokens: fullAt.get(key)!, updated_at: trx.raw("clock_timestamp()") })))
          .onConflict("key")
          .ignore();
        const rows = (await trx(rateBucketsTable)
          .whereIn("key", keys)
          .orderBy("key")
          .forUpdate()
          .select("key", "tokens", trx.raw("extract(epoch from clock_timestamp() - updated_at) * 1000 as elapsed_ms"))) as BucketRow[];
        const stored = new Map(rows.map((row) => [row.key, row]));
        const tokens = requests.map(({ key, rate }) => {
          // Pruned since the insert above (it was full): full still.
          const row = stored.get(key);
          if (!row) return rate.burst;
          const elapsed = Math.max(0, Number(row.elapsed_ms));
          return Math.min(rate.burst, Number(row.tokens) + (elapsed / 1000) * rate.ratePerSecond);
        });
        const refused = tokens.findIndex((left) => left < 1);
        if (refused >= 0) return { decisions: requests.map((r, i) => bucketDecision(tokens[i]!, r.rate, tokens[i]! >= 1)), refused };
        const spent = tokens.map((left) => left - 1);
        await trx.raw(
          `update ?? as b set tokens = v.tokens, updated_at = clock_timestamp()
           from (values ${requests.map(() => "(?::text, ?::double precision)").join(", ")}) as v(key, tokens)
           where b.key = v.key`,
          [rateBucketsTable, ...requests.flatMap((r, i) => [r.key, spent[i]!])],
        );
        return { decisions: requests.map((r, i) => bucketDecision(spent[i]!, r.rate, true)) };
      });
    } catch {
      throw limiterUnavailable();
    }
  }
}

function limiterUnavailable() {
  return apiError(Code.Unavailable, "RATE_LIMITER_UNAVAILABLE", "the rate limiter's store cannot be reached; try again shortly");
}
