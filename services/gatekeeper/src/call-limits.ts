import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectError } from "@connectrpc/connect";
import { billingPeriod, planById, type PlanDefinition, type TenantMailer } from "@onerouter/admin";
import { RetryInfoSchema } from "@onerouter/client/gen/google/rpc/error_details_pb";
import { apiError, rateLimited, type Knex, type Logger } from "@onerouter/core";
import type { ApiKeyLimits, AuthenticatedCaller } from "./authenticator";
import { BatchedCounters, counted, type Counter } from "./batched-counters";
import { LocalRateStore, type Rate, type RateDecision, type RateRequest, type RateStore } from "./rate-limiter";
import { UsageNotices, type QuotaUse } from "./usage-notices";

// The calls that count against a monthly quota besides api_requests.
const meteredMethods: Readonly<Record<string, "payments" | "messages">> = {
  "onerouter.payments.v1.PaymentService/CreatePayment": "payments",
  "onerouter.messaging.v1.MessagingService/SendMessage": "messages",
};

const monthlyLimitOf: Readonly<Record<string, (plan: PlanDefinition) => number>> = {
  api_requests: (plan) => plan.monthlyApiRequests,
  payments: (plan) => plan.monthlyPayments,
  messages: (plan) => plan.monthlyMessages,
};

// One of the limits a call is under, as the RateLimit-* headers tell it.
interface LimitState {
  limit: number;
  remaining: number;
  resetSeconds: number;
}

const dayMs = 86_400_000;

function utcDay(time: Date): { start: Date; end: Date } {
  const start = new Date(Math.floor(time.getTime() / dayMs) * dayMs);
  return { start, end: new Date(start.getTime() + dayMs) };
}

const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000));

// The limits every admitted call is under, in the order they are checked:
// the server's rate per caller, the plan's rate per caller, the key's own
// rate, the key's requests per UTC day, the plan's monthly quotas. A call
// refused by one spends nothing of the others and is not counted. Checks and
// counts happen with no await in between, so concurrent calls in one process
// never overshoot a limit; across processes a count lags by one flush
// (about a second), so together they may let through what the others
// admitted in that time. The rates' buckets are this process's, or, in the
// mesh, a store every gatekeeper replica shares; then a call's quotas are
// checked again once its tokens are taken, and a call refused by them has
// spent its tokens.
export class CallLimits {
  private readonly server: Rate;
  private readonly rates: RateStore;
  private readonly monthly: BatchedCounters;
  private readonly daily: BatchedCounters;
  private readonly notices: UsageNotices;
  // The plan each counted tenant was last seen on, for its notices.
  private plansSeen = new Map<string, PlanDefinition>();

  constructor(deps: { knex: Knex; server: Rate; rates?: RateStore; mailer?: TenantMailer; logger: Logger }) {
    this.server = deps.server;
    this.rates = deps.rates ?? new LocalRateStore();
    this.monthly = new BatchedCounters(deps.knex, "usage_counters", ["tenant_id", "period_start", "metric"]);
    this.daily = new BatchedCounters(deps.knex, "api_key_daily_requests", ["api_key_id", "day_start"]);
    this.notices = new UsageNotices(deps.knex, deps.mailer, deps.logger);
  }

  // Admits the call and answers the RateLimit-* headers for it, or throws
  // the refusal, its headers set.
  async admit(caller: AuthenticatedCaller, method: string): Promise<Headers> {
    const now = new Date();
    const plan = caller.plan ? planById(caller.plan.id) : undefined;
    const period = billingPeriod(now);
    const day = utcDay(now);
    const metered = meteredMethods[method];
    const metrics = metered ? ["api_requests", metered] : ["api_requests"];
    const [monthly, daily] = await Promise.all([
      Promise.all(metrics.map((metric) => this.monthly.counter({ tenant_id: caller.tenantId, period_start: period.start, metric }))),
      caller.apiKeyId ? this.daily.counter({ api_key_id: caller.apiKeyId, day_start: day.start }) : undefined,
    ]);
    const keyLimits = caller.keyLimits;
    const perDay = keyLimits?.requestsPerDay ?? 0;
    const untilPeriodEnd = period.end.getTime() - now.getTime();
    // The first quota the call would exceed, checked with no await before it is counted.
    const refuseOverQuota = () => {
      if (daily && perDay > 0 && counted(daily) >= perDay) {
        const untilTomorrow = day.end.getTime() - now.getTime();
        throw withHeaders(
          rateLimited(untilTomorrow, { limit: "api_key_requests_per_day", api_key_id: caller.apiKeyId ?? "", requests_per_day: String(perDay) }),
          { limit: perDay, remaining: 0, resetSeconds: seconds(untilTomorrow) },
          untilTomorrow,
        );
      }
      if (!plan) return;
      for (const counter of monthly) {
        const metric = counter.key.metric as string;
        const limit = monthlyLimitOf[metric]!(plan);
        const used = counted(counter);
        if (limit > 0 && used >= limit) {
          throw withHeaders(quotaExceeded(plan, metric, limit, used, period.end, untilPeriodEnd), {
            limit,
            remaining: 0,
            resetSeconds: seconds(untilPeriodEnd),
          }, untilPeriodEnd);
        }
      }
    };
    refuseOverQuota();
    const buckets = this.buckets(caller, plan, keyLimits);
    const taking = this.rates.take(buckets);
    const outcome = taking instanceof Promise ? await taking : taking;
    if (outcome.refused !== undefined) {
      const decision = outcome.decisions[outcome.refused]!;
      throw withHeaders(
        rateLimited(decision.retryAfterMs, { limit: buckets[outcome.refused]!.name, api_key_id: caller.apiKeyId ?? "" }),
        { ...bucketState(decision), remaining: 0 },
        decision.retryAfterMs,
      );
    }
    if (taking instanceof Promise) refuseOverQuota();
    if (plan) this.plansSeen.set(caller.tenantId, plan);

    const states: LimitState[] = outcome.decisions.map(bucketState);
    if (daily) {
      this.daily.add(daily);
      daily.watched = perDay > 0;
      if (perDay > 0) states.push({ limit: perDay, remaining: perDay - counted(daily), resetSeconds: seconds(day.end.getTime() - now.getTime()) });
    }
    for (const counter of monthly) {
      this.monthly.add(counter);
      const limit = plan ? monthlyLimitOf[counter.key.metric as string]!(plan) : 0;
      counter.watched = limit > 0;
      if (limit > 0) states.push({ limit, remaining: limit - counted(counter), resetSeconds: seconds(untilPeriodEnd) });
    }
    return limitHeaders(closestToExhaustion(states));
  }

  // The rates a call is under, each a bucket per caller (or per key).
  private buckets(caller: AuthenticatedCaller, plan: PlanDefinition | undefined, keyLimits: ApiKeyLimits | undefined) {
    const buckets: (RateRequest & { name: string })[] = [
      { key: `server:${caller.actor}`, rate: this.server, name: "requests_per_second" },
    ];
    if (plan && plan.requestsPerSecond > 0) {
      const rate = { ratePerSecond: plan.requestsPerSecond, burst: plan.requestsPerSecond };
      buckets.push({ key: `plan:${caller.actor}`, rate, name: "plan_requests_per_second" });
    }
    if (caller.apiKeyId && keyLimits && keyLimits.requestsPerSecond > 0) {
      const burst = keyLimits.burst > 0 ? keyLimits.burst : Math.max(1, Math.ceil(keyLimits.requestsPerSecond));
      const rate = { ratePerSecond: keyLimits.requestsPerSecond, burst };
      buckets.push({ key: `api_key:${caller.apiKeyId}`, rate, name: "api_key_requests_per_second" });
    }
    return buckets;
  }

  // Writes the counts, learns the other processes', and gives the usage
  // notices the counts now reach.
  async flush(): Promise<void> {
    const [learned] = await Promise.all([this.monthly.flush(), this.daily.flush()]);
    const plans = new Map<string, PlanDefinition>();
    const uses: QuotaUse[] = [];
    for (const counter of learned) {
      const tenantId = counter.key.tenant_id as string;
      const plan = this.plansSeen.get(tenantId);
      if (!plan) continue;
      plans.set(tenantId, plan);
      uses.push(quotaUse(counter, plan));
    }
    // Tenants whose counters were forgotten are forgotten here too.
    this.plansSeen = plans;
    await this.notices.check(uses);
  }
}

function quotaUse(counter: Counter, plan: PlanDefinition): QuotaUse {
  const metric = counter.key.metric as string;
  return {
    tenantId: counter.key.tenant_id as string,
    planId: plan.id,
    metric,
    periodStart: counter.key.period_start as Date,
    used: counted(counter),
    limit: monthlyLimitOf[metric]!(plan),
  };
}

function bucketState(decision: RateDecision): LimitState {
  return { limit: decision.limit, remaining: decision.remaining, resetSeconds: seconds(decision.resetMs) };
}

// The limit with the smallest share left.
function closestToExhaustion(states: LimitState[]): LimitState | undefined {
  let closest: LimitState | undefined;
  for (const state of states) {
    const share = state.remaining / state.limit;
    const closestShare = closest ? closest.remaining / closest.limit : Infinity;
    if (share < closestShare || (share === closestShare && state.remaining < closest!.remaining)) closest = state;
  }
  return closest;
}

function limitHeaders(state: LimitState | undefined, retryAfterMs?: number): Headers {
  const headers = new Headers();
  if (state) {
    headers.set("RateLimit-Limit", String(state.limit));
    headers.set("RateLimit-Remaining", String(Math.max(0, state.remaining)));
    headers.set("RateLimit-Reset", String(state.resetSeconds));
  }
  if (retryAfterMs !== undefined) headers.set("Retry-After", String(Math.max(1, seconds(retryAfterMs))));
  return headers;
}

// A refusal with its Retry-After, and the state of the limit that refused.
export function withHeaders(err: ConnectError, state: LimitState | undefined, retryAfterMs: number): ConnectError {
  applyHeaders(err.metadata, limitHeaders(state, retryAfterMs));
  return err;
}

function quotaExceeded(plan: PlanDefinition, metric: string, limit: number, used: number, periodEnd: Date, retryAfterMs: number) {
  return apiError(
    Code.ResourceExhausted,
    "QUOTA_EXCEEDED",
    `the ${plan.id} plan allows ${limit} ${metric.replace("_", " ")} a month, all used; ` +
      `they renew at ${periodEnd.toISOString()}, or upgrade the plan for more`,
    { metric, limit: String(limit), used: String(used), plan_id: plan.id, period_end: periodEnd.toISOString() },
    [{ desc: RetryInfoSchema, value: create(RetryInfoSchema, { retryDelay: durationFromMs(retryAfterMs) }) }],
  );
}

// The RateLimit-* headers are put on every answer to an admitted call.
export function applyHeaders(target: Headers, headers: Headers): void {
  headers.forEach((value, name) => target.set(name, value));
}
