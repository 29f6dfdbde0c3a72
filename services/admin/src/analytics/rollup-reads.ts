import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  AmountByCurrencySchema,
  CostLineSchema,
  CostProjectionSchema,
  DailySavingsSchema,
  ErrorCountSchema,
  FailoverSchema,
  Granularity,
  Metric,
  OverviewSchema,
  ProviderComparisonSchema,
  SavingsSchema,
  TimeSeriesSchema,
  type CostLine,
  type CostProjection,
  type DailySavings,
  type ErrorCount,
  type Failover,
  type Overview,
  type ProviderComparison,
  type Savings,
  type TimeSeries,
} from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";
import { Category, type TimeRange } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { addLatencyBuckets, currencyExponent, latencyBucketCount, latencyPercentile, paginate, whereCreatedIn, type Knex, type PageRequest } from "@onerouter/core";
import { attemptRollupTables, type EnvironmentName } from "@onerouter/routing";

// Analytics read from the rollups the payments, messaging and webhooks rooms
// keep as they record their rows (a few rows per hour), never from the rows
// themselves. A key's sums are spread over stripes (see core's rollups), so
// every read sums or merges over a key's rows, never takes one row as the
// key's. A rollup row whose rows all moved to another status stays with
// zero sums, and is left out where it would show. A range is resolved to whole UTC hours: an hour counts when it
// starts at or after the hour the range starts in, and before the range ends.

export interface AnalyticsScope {
  tenantId: string;
  environment: EnvironmentName;
}

const hourMs = 3600_000;

// What each category's rollups are called and what counts as a success there.
interface CategoryTables {
  category: Category;
  rollup: string;
  count: string;
  currency: string;
  // Parent statuses: taken by a provider (what a fee is paid on); finished one way or the other; the success among them.
  charged: readonly string[];
  finished: readonly string[];
  success: string;
  attempts: ReturnType<typeof attemptRollupTables>;
  parentColumn: string;
}

const payments: CategoryTables = {
  category: Category.PAYMENTS,
  rollup: "payment_rollups",
  count: "payments",
  currency: "currency",
  charged: ["succeeded"],
  finished: ["succeeded", "failed"],
  success: "succeeded",
  attempts: attemptRollupTables("payment"),
  parentColumn: "payment_id",
};

const messaging: CategoryTables = {
  category: Category.MESSAGING,
  rollup: "message_rollups",
  count: "messages",
  currency: "price_currency",
  charged: ["sent", "delivered", "undelivered"],
  finished: ["delivered", "undelivered", "failed"],
  success: "delivered",
  attempts: attemptRollupTables("message"),
  parentColumn: "message_id",
};

// The categories a request names; UNSPECIFIED is both.
function categories(category: Category): CategoryTables[] {
  if (category === Category.PAYMENTS) return [payments];
  if (category === Category.MESSAGING) return [messaging];
  return [payments, messaging];
}

// Minor units of `currency` in millionths of its major unit.
function minorToMicros(amount: bigint, currency: string): bigint {
  return amount * 10n ** BigInt(6 - currencyExponent(currency));
}

// Millionths of the major unit in minor units, rounded half up.
function microsToMinor(micros: bigint, currency: string): bigint {
  const per = 10n ** BigInt(6 - currencyExponent(currency));
  return (micros + per / 2n) / per;
}

function rate(part: number, whole: number): number {
  return whole === 0 ? 0 : part / whole;
}

function bigint(value: unknown): bigint {
  return value === null || value === undefined ? 0n : BigInt(value as string | number | bigint);
}

function number(value: unknown): number {
  return value === null || value === undefined ? 0 : Number(value);
}

function sqlList(values: readonly string[]): string {
  return values.map((v) => `'${v}'`).join(", ");
}

export class AnalyticsReader {
  constructor(private readonly knex: Knex) {}

  // The table's rows of the caller's tenant and environment in the range's hours.
  private rows(table: string, scope: AnalyticsScope, range: TimeRange | undefined): Knex.QueryBuilder {
    const query = this.knex(table).where({ tenant_id: scope.tenantId, environment: scope.environment });
    if (range?.startTime) query.where("hour", ">=", new Date(Math.floor(timestampDate(range.startTime).getTime() / hourMs) * hourMs));
    if (range?.endTime) query.where("hour", "<", timestampDate(range.endTime));
    return query;
  }

  async overview(scope: AnalyticsScope, range: TimeRange | undefined): Promise<Overview> {
    const byStatus = async (tables: CategoryTables) =>
      (await this.rows(tables.rollup, scope, range)
        .select("status")
        .sum({ count: tables.count })
        .groupBy("status")) as { status: string; count: unknown }[];
    const [paymentStatuses, volume, messageStatuses, failovers, deliveries] = await Promise.all([
      byStatus(payments),
      this.rows(payments.rollup, scope, range).where("status", "succeeded").select("currency").sum({ amount: "amount" }).groupBy("currency").orderBy("currency"),
      byStatus(messaging),
      Promise.all([payments, messaging].map((t) => this.rows(t.attempts.rollups, scope, range).sum({ failovers: "failovers" }).first())),
      this.rows("webhook_delivery_rollups", scope, range).select("status").sum({ count: "deliveries" }).groupBy("status"),
    ]);
    const count = (rows: { status: string; count: unknown }[], statuses?: readonly string[]) =>
      rows.filter((r) => !statuses || statuses.includes(r.status)).reduce((sum, r) => sum + number(r.count), 0);
    const paymentSucceeded = count(paymentStatuses, ["succeeded"]);
    const messageDelivered = count(messageStatuses, ["delivered"]);
    const deliveryRows = deliveries as { status: string; count: unknown }[];
    const deliveriesFinished = count(deliveryRows, ["succeeded", "failed"]);
    const deliveriesSucceeded = count(deliveryRows, ["succeeded"]);
    return create(OverviewSchema, {
      paymentCount: BigInt(count(paymentStatuses)),
      paymentSucceededCount: BigInt(paymentSucceeded),
      paymentVolume: (volume as { currency: string; amount: unknown }[]).map((v) =>
        create(AmountByCurrencySchema, { currency: v.currency, amount: bigint(v.amount) }),
      ),
      paymentSuccessRate: rate(paymentSucceeded, count(paymentStatuses, payments.finished)),
      messageCount: BigInt(count(messageStatuses)),
      messageDeliveredCount: BigInt(messageDelivered),
      messageDeliveryRate: rate(messageDelivered, count(messageStatuses, messaging.finished)),
      failoverCount: BigInt(failovers.reduce((sum, f) => sum + number((f as { failovers?: unknown } | undefined)?.failovers), 0)),
      deliveryCount: BigInt(deliveriesFinished),
      deliverySucceededCount: BigInt(deliveriesSucceeded),
      deliverySuccessRate: rate(deliveriesSucceeded, deliveriesFinished),
    });
  }

  // One series per provider (when grouped) and currency (for money); points
  // in time order, buckets without data left out.
  async timeSeries(
    scope: AnalyticsScope,
    request: { metric: Metric; granularity: Granularity; range: TimeRange | undefined; groupByProvider: boolean },
  ): Promise<TimeSeries[]> {
    const bucket =
      request.granularity === Granularity.DAY ? this.knex.raw(`date_trunc('day', hour at time zone 'UTC') at time zone 'UTC'`) : this.knex.raw("hour");
    const provider = request.groupByProvider ? this.knex.raw("provider") : this.knex.raw("''");
    const grouped = (table: string) =>
      this.rows(table, scope, request.range).select({ time: bucket, provider }).groupByRaw("1, 2").orderByRaw("1");
    const points: { time: Date; provider: string; currency: string; value: number }[] = [];
    const add = (rows: unknown[], value: (r: Record<string, unknown>) => number | undefined, currency?: (r: Record<string, unknown>) => string) => {
      for (const r of rows as Record<string, unknown>[]) {
        const v = value(r);
        if (v !== undefined) points.push({ time: new Date(r.time as string), provider: String(r.provider), currency: currency?.(r) ?? "", value: v });
      }
    };
    const ratio = async (tables: CategoryTables) =>
      add(
        await grouped(tables.rollup)
          .select(this.knex.raw(`sum(${tables.count}) filter (where status = '${tables.success}') as part`))
          .select(this.knex.raw(`sum(${tables.count}) filter (where status in (${sqlList(tables.finished)})) as whole`)),
        (r) => (number(r.whole) === 0 ? undefined : number(r.part) / number(r.whole)),
      );
    switch (request.metric) {
      case Metric.PAYMENT_COUNT:
        add(await grouped(payments.rollup).sum({ value: "payments" }).havingRaw("sum(payments) <> 0"), (r) => number(r.value));
        break;
      case Metric.PAYMENT_VOLUME:
        add(
          await grouped(payments.rollup).where("status", "succeeded").select("currency").sum({ value: "amount" }).groupBy("currency"),
          (r) => number(r.value),
          (r) => String(r.currency),
        );
        break;
      case Metric.PAYMENT_SUCCESS_RATE:
        await ratio(payments);
        break;
      case Metric.MESSAGE_COUNT:
        add(await grouped(messaging.rollup).sum({ value: "messages" }).havingRaw("sum(messages) <> 0"), (r) => number(r.value));
        break;
      case Metric.MESSAGE_DELIVERY_RATE:
        await ratio(messaging);
        break;
      case Metric.PROVIDER_LATENCY_P95: {
        const histograms = new Map<string, { time: Date; provider: string; buckets: number[] }>();
        for (const tables of [payments, messaging]) {
          const rows = (await this.rows(tables.attempts.rollups, scope, request.range).select({ time: bucket, provider }, "latency_buckets")) as {
            time: string;
            provider: string;
            latency_buckets: number[];
          }[];
          for (const r of rows) {
            const time = new Date(r.time);
            const key = `${time.toISOString()}\u0000${r.provider}`;
            const entry = histograms.get(key) ?? { time, provider: r.provider, buckets: Array<number>(latencyBucketCount).fill(0) };
            addLatencyBuckets(entry.buckets, r.latency_buckets);
            histograms.set(key, entry);
          }
        }
        for (const h of histograms.values()) {
          const p95 = latencyPercentile(h.buckets, 0.95);
          if (p95 !== undefined) points.push({ time: h.time, provider: h.provider, currency: "", value: p95 });
        }
        break;
      }
      case Metric.COST:
        for (const tables of [payments, messaging]) {
          const rows = await grouped(tables.rollup)
            .whereIn("status", tables.charged)
            .whereNot(tables.currency, "")
            .select({ currency: tables.currency })
            .sum({ value: tables === payments ? "fee" : "price_micros" })
            .groupBy(tables.currency);
          add(
            rows,
            (r) => {
              const micros = tables === payments ? minorToMicros(bigint(r.value), String(r.currency)) : bigint(r.value);
              return Number(micros) / 1e6;
            },
            (r) => String(r.currency),
          );
        }
        break;
      default:
        return [];
    }
    // Costs of both categories in one currency and hour add up.
    const series = new Map<string, { provider: string; currency: string; points: Map<number, number> }>();
    for (const p of points) {
      const key = `${p.provider}\u0000${p.currency}`;
      const s = series.get(key) ?? { provider: p.provider, currency: p.currency, points: new Map() };
      s.points.set(p.time.getTime(), (s.points.get(p.time.getTime()) ?? 0) + p.value);
      series.set(key, s);
    }
    return [...series.values()]
      .sort((a, b) => a.provider.localeCompare(b.provider) || a.currency.localeCompare(b.currency))
      .map((s) =>
        create(TimeSeriesSchema, {
          provider: s.provider,
          currency: s.currency,
          points: [...s.points.entries()].sort(([a], [b]) => a - b).map(([time, value]) => ({ time: timestampFromDate(new Date(time)), value })),
        }),
      );
  }

  // Each provider account with attempts in the range: its finished attempts,
  // their success rate and latency, and the fees it charged.
  async compareProviders(scope: AnalyticsScope, category: Category, range: TimeRange | undefined): Promise<ProviderComparison[]> {
    const result: ProviderComparison[] = [];
    for (const tables of categories(category)) {
      const [attemptRows, feeRows] = await Promise.all([
        this.rows(tables.attempts.rollups, scope, range).select("provider", "provider_account_id", "attempts", "successes", "latency_buckets"),
        this.rows(tables.rollup, scope, range)
          .whereIn("status", tables.charged)
          .whereNot(tables.currency, "")
          .select("provider_account_id", { currency: tables.currency })
          .sum({ fee: tables === payments ? "fee" : "price_micros" })
          .groupBy("provider_account_id", tables.currency)
          .orderBy(tables.currency),
      ]);
      const accounts = new Map<string, { provider: string; attempts: number; successes: number; buckets: number[] }>();
      for (const r of attemptRows as { provider: string; provider_account_id: string; attempts: unknown; successes: unknown; latency_buckets: number[] }[]) {
        const a = accounts.get(r.provider_account_id) ?? { provider: r.provider, attempts: 0, successes: 0, buckets: Array<number>(latencyBucketCount).fill(0) };
        a.attempts += number(r.attempts);
        a.successes += number(r.successes);
        addLatencyBuckets(a.buckets, r.latency_buckets);
        accounts.set(r.provider_account_id, a);
      }
      const fees = feeRows as { provider_account_id: string; currency: string; fee: unknown }[];
      for (const [accountId, a] of accounts) {
        if (a.attempts === 0) continue;
        const p50 = latencyPercentile(a.buckets, 0.5) ?? 0;
        const p95 = latencyPercentile(a.buckets, 0.95) ?? 0;
        result.push(
          create(ProviderComparisonSchema, {
            provider: a.provider,
            providerAccountId: accountId,
            category: tables.category,
            attemptCount: BigInt(a.attempts),
            successRate: rate(a.successes, a.attempts),
            latencyP50: durationFromMs(Math.round(p50)),
            latencyP95: durationFromMs(Math.round(p95)),
            fees: fees
              .filter((f) => f.provider_account_id === accountId)
              .map((f) =>
                create(AmountByCurrencySchema, {
                  currency: f.currency,
                  amount: tables === payments ? bigint(f.fee) : microsToMinor(bigint(f.fee), f.currency),
                }),
              ),
          }),
        );
      }
    }
    return result.sort((a, b) => a.category - b.category || Number(b.attemptCount - a.attemptCount) || a.providerAccountId.localeCompare(b.providerAccountId));
  }

  // What succeeded payments and sent messages cost, per provider, per API
  // key, projected over the current month, and what routing saved on them.
  async costs(
    scope: AnalyticsScope,
    range: TimeRange | undefined,
    now = new Date(),
  ): Promise<{ lines: CostLine[]; apiKeyLines: CostLine[]; projections: CostProjection[]; savings: Savings[]; dailySavings: DailySavings[] }> {
    const lines: CostLine[] = [];
    const apiKeyLines: CostLine[] = [];
    const projections: CostProjection[] = [];
    const savings: Savings[] = [];
    const dailySavings: DailySavings[] = [];
    const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const monthEnd = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    for (const tables of [payments, messaging]) {
      const isPayments = tables === payments;
      const micros = (value: unknown, currency: string) => (isPayments ? minorToMicros(bigint(value), currency) : bigint(value));
      const charged = (rangeOf: TimeRange | undefined) =>
        this.rows(tables.rollup, scope, rangeOf).whereIn("status", tables.charged).whereNot(tables.currency, "").select({ currency: tables.currency });
      const paid = isPayments ? "fee" : "price_micros";
      const highest = isPayments ? "highest_eligible_fee" : "highest_eligible_price_micros";
      const fallback = isPayments ? "default_provider_fee" : "default_provider_price_micros";
      const [byProvider, byKey, monthToDate, saved, savedDaily] = await Promise.all([
        charged(range).select("provider").sum({ cost: paid, count: tables.count }).groupBy("provider", tables.currency).orderBy(["provider", tables.currency]),
        charged(range).select("api_key_id").sum({ cost: paid, count: tables.count }).groupBy("api_key_id", tables.currency).orderBy(["api_key_id", tables.currency]),
        charged(undefined).where("hour", ">=", monthStart).sum({ cost: paid }).groupBy(tables.currency).orderBy(tables.currency),
        charged(range).sum({ count: tables.count, paid, highest, fallback }).groupBy(tables.currency).orderBy(tables.currency),
        charged(range)
          .select({ day: this.knex.raw(`date_trunc('day', hour at time zone 'UTC') at time zone 'UTC'`) })
          .sum({ count: tables.count, paid, highest, fallback })
          .groupByRaw(`day, ${tables.currency}`)
          .orderByRaw(`day, ${tables.currency}`),
      ]);
      for (const r of byProvider as Record<string, unknown>[]) {
        const currency = String(r.currency);
        lines.push(create(CostLineSchema, { provider: String(r.provider), category: tables.category, currency, costMicros: micros(r.cost, currency), count: bigint(r.count) }));
      }
      for (const r of byKey as Record<string, unknown>[]) {
        const currency = String(r.currency);
        apiKeyLines.push(create(CostLineSchema, { apiKeyId: String(r.api_key_id), category: tables.category, currency, costMicros: micros(r.cost, currency), count: bigint(r.count) }));
      }
      const elapsed = BigInt(Math.max(1, now.getTime() - monthStart.getTime()));
      const month = BigInt(monthEnd.getTime() - monthStart.getTime());
      for (const r of monthToDate as Record<string, unknown>[]) {
        const currency = String(r.currency);
        const toDate = micros(r.cost, currency);
        projections.push(create(CostProjectionSchema, { category: tables.category, currency, monthToDateMicros: toDate, projectedMicros: (toDate * month) / elapsed }));
      }
      const savingsOf = (r: Record<string, unknown>) => {
        const currency = String(r.currency);
        const paidMicros = micros(r.paid, currency);
        const highestMicros = micros(r.highest, currency);
        const defaultMicros = micros(r.fallback, currency);
        return create(SavingsSchema, {
          category: tables.category,
          currency,
          count: bigint(r.count),
          paidMicros,
          highestMicros,
          defaultMicros,
          savedVsHighestMicros: highestMicros - paidMicros,
          savedVsDefaultMicros: defaultMicros - paidMicros,
        });
      };
      savings.push(...(saved as Record<string, unknown>[]).map(savingsOf));
      dailySavings.push(
        ...(savedDaily as Record<string, unknown>[]).map((r) =>
          create(DailySavingsSchema, { day: timestampFromDate(new Date(r.day as string)), savings: savingsOf(r) }),
        ),
      );
    }
    return { lines, apiKeyLines, projections, savings, dailySavings };
  }

  // The most frequent errors of failed attempts by normalized reason, provider and provider code.
  async topErrors(scope: AnalyticsScope, category: Category, range: TimeRange | undefined, limit: number): Promise<ErrorCount[]> {
    const counts = new Map<string, ErrorCount>();
    for (const tables of categories(category)) {
      const rows = (await this.rows(tables.attempts.errors, scope, range)
        .select("reason", "provider", "provider_code")
        .sum({ count: "errors" })
        .groupBy("reason", "provider", "provider_code")) as { reason: string; provider: string; provider_code: string; count: unknown }[];
      for (const r of rows) {
        const key = [r.reason, r.provider, r.provider_code].join("\u0000");
        const existing = counts.get(key);
        if (existing) existing.count += bigint(r.count);
        else counts.set(key, create(ErrorCountSchema, { reason: r.reason, provider: r.provider, providerCode: r.provider_code, count: bigint(r.count) }));
      }
    }
    return [...counts.values()]
      .filter((e) => e.count > 0n)
      .sort((a, b) => Number(b.count - a.count) || a.reason.localeCompare(b.reason) || a.provider.localeCompare(b.provider) || a.providerCode.localeCompare(b.providerCode))
      .slice(0, limit);
  }

  // The failover log, newest first.
  async failovers(scope: AnalyticsScope, category: Category, range: TimeRange | undefined, page: PageRequest): Promise<{ failovers: Failover[]; nextPageToken: string }> {
    const columns = `tenant_id, environment, from_provider, from_provider_account_id, from_attempt_id, to_provider,
      to_provider_account_id, to_attempt_id as id, reason, provider_code, created_at`;
    const parts = categories(category).map(
      (t) => `select ${t.category} as category, ${t.parentColumn} as parent_id, ${columns} from ${t.attempts.failovers}`,
    );
    const query = this.knex
      .queryBuilder()
      .from(this.knex.raw(`(${parts.join(" union all ")}) as failovers`))
      .where({ tenant_id: scope.tenantId, environment: scope.environment });
    whereCreatedIn(query, range, "created_at", "range");
    const { rows, nextPageToken } = await paginate<Record<string, string> & { id: string; created_at: Date }>(query, page);
    return {
      failovers: rows.map((r) =>
        create(FailoverSchema, {
          category: Number(r.category) as Category,
          ...(Number(r.category) === Category.PAYMENTS ? { paymentId: r.parent_id } : { messageId: r.parent_id }),
          fromProvider: r.from_provider,
          fromProviderAccountId: r.from_provider_account_id,
          fromAttemptId: r.from_attempt_id,
          toProvider: r.to_provider,
          toProviderAccountId: r.to_provider_account_id,
          toAttemptId: r.id,
          reason: r.reason,
          providerCode: r.provider_code,
          createTime: timestampFromDate(new Date(r.created_at)),
        }),
      ),
      nextPageToken,
    };
  }
}
