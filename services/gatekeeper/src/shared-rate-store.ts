import { Code } from "@connectrpc/connect";
import { apiError, type Knex } from "@onerouter/core";
import { bucketDecision, type RateOutcome, type RateRequest, type RateStore } from "./rate-limiter";

export const rateBucketsTable = "gatekeeper_rate_buckets";

interface BucketRow {
  key: string;
  tokens: number;
  elapsed_ms: number;
}

// Token buckets in Postgres, so every gatekeeper replica spends from one
// budget. A call's buckets are locked together (in one order, so two calls
// never wait on each other) and either all give a token or none does. The
// database's clock refills them, so replicas' clocks do not matter. When the
// store cannot answer, no call passes: RATE_LIMITER_UNAVAILABLE.
export class SharedRateStore implements RateStore {
  constructor(private readonly knex: Knex) {}

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
          const row = stored.get(key)!;
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
      throw apiError(Code.Unavailable, "RATE_LIMITER_UNAVAILABLE", "the rate limiter's store cannot be reached; try again shortly");
    }
  }
}
