import { fromBinary, toJsonString } from "@bufbuild/protobuf";
import { EventSchema, EventType } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { appendEvent, contextOfTraceparent, environmentFromName, insertRowsSql, newId, runPrepared, spanFailed, withParts, tracer, WriteBatcher, type Config, type Knex, type Logger, type MasterKeyring } from "@onerouter/core";
import { SpanKind } from "@opentelemetry/api";
import type { Registry } from "prom-client";
import { activeSecrets, type StoredSecret } from "../secrets";
import { signStandardWebhook } from "../signing";
import { DeliveryMetrics } from "./delivery-metrics";
import { WebhookHttpClient, type EndpointEnvironment, type WebhookPostResult } from "./http-client";
import { RetrySchedule, type AttemptVerdict } from "./schedule";

// Delivers what fan-out owes: claims due deliveries with a lease, POSTs each
// event to its endpoint signed with every active secret, and records the
// attempt, the delivery's next state and the endpoint's health in one
// transaction. No transaction is held across an HTTP call (PGlite has a
// single connection), and the lease keeps workers in other processes off a
// delivery while it is in flight. A delivery's slot (in this process and
// under its endpoint's bound) is freed when the endpoint answers, not when
// the attempt is recorded, so the next delivery to the endpoint never waits
// on the database; the lease stays until the attempt is recorded.
//
// An endpoint with a backlog (its oldest due delivery is behind) drains at a
// bounded rate while other endpoints' deliveries go out on time, so it takes
// no more than its share of the machine from them; with nothing else to send
// it drains at full speed.
//
// Deliveries of an endpoint that is not enabled (disabled by the customer, or
// failing after OneRouter disabled it) stay pending and are not claimed: once
// the endpoint is enabled again they are due at once and nothing is lost.

export interface DeliveryWorkerOptions {
  knex: Knex;
  masterKeys: MasterKeyring;
  httpClient: WebhookHttpClient;
  schedule: RetrySchedule;
  logger: Logger;
  // Deliveries in flight at once in this process.
  concurrency: number;
  // Deliveries in flight at once to one endpoint, counted across processes
  // through their leases. Exact within a process; processes claiming the same
  // endpoint at the same instant may briefly exceed it together.
  endpointConcurrency: number;
  pollIntervalMs: number;
  // An endpoint failing without a success for this long is disabled.
  disableAfterMs: number;
  // Time as the worker sees it (signatures, schedules, endpoint health).
  // Leases and due times are compared with the database's clock.
  now?: () => Date;
  metrics?: DeliveryMetrics;
  // Deliveries per second this process starts to endpoints with a backlog
  // while deliveries to others are on time.
  backlogRate: number;
  // A delivery claimed longer than this after it was due is behind: its
  // endpoint has a backlog.
  behindAfterMs: number;
}

export interface DeliveryAttemptRow {
  id: string;
  delivery_id: string;
  tenant_id: string;
  environment: EndpointEnvironment;
  event_id: string;
  endpoint_id: string;
  attempt_number: number;
  status: "succeeded" | "failed";
  response_status_code: number;
  response_body: string;
  latency_ms: number;
  error: string;
  next_attempt_at: Date | null;
  created_at: Date;
}

export const webhookUserAgent = "OneRouter-Webhooks/1";

// The HTTP timeout bounds an attempt (resolve, connect, send, read); this
// covers recording it. It is also how long a crashed worker's deliveries wait.
const leaseMarginMs = 10_000;

interface FinishedAttempt {
  attemptNumber: number;
  startedAt: Date;
  result: WebhookPostResult;
  verdict: AttemptVerdict;
}

// Attempts written in one transaction at most.
const maxRecordBatch = 200;

// A delivery claimed longer than behindAfterMs after it was due is behind:
// its endpoint has a backlog. One claimed within onTimeMs is on time: its
// endpoint keeps up. In between (a burst's queue) neither.
const onTimeMs = 250;
// Backlogs stay bounded for this long after an on-time delivery was claimed.
const onTimeWindowMs = 1000;

interface DeliveryJob {
  id: string;
  tenant_id: string;
  environment: EndpointEnvironment;
  event_id: string;
  endpoint_id: string;
  // Status before the claim; a resend may claim any delivery.
  status: "pending" | "succeeded" | "failed";
  attempt_count: number;
  url: string;
  secrets: StoredSecret[] | string;
  payload: Uint8Array;
  // The trace of the change that wrote the event, which the delivery's span joins.
  traceparent: string | null;
  // How long ago it was due, when claimed.
  waited_ms: number;
}

export class DeliveryWorker {
  private readonly now: () => Date;
  private readonly leaseMs: number;
  private running = false;
  private poller: NodeJS.Timeout | undefined;
  // Passes run one at a time, so this process's leases are counted before the next claim.
  private pass: Promise<void> | undefined;
  private passRequested = false;
  // Every delivery started and not yet recorded, for stop() to wait on.
  private readonly inFlight = new Set<Promise<void>>();
  // Deliveries whose HTTP request is under way: what the concurrency bounds;
  // and per endpoint, where a full count means a wake for it needs no pass.
  private sending = 0;
  private readonly sendingTo = new Map<string, number>();
  // Deliveries the endpoint has answered whose attempt is not recorded yet:
  // still leased, but no longer counted against their endpoint's bound.
  private readonly answered = new Set<string>();
  // A pass claimed nothing because answered attempts filled a record batch.
  private heldForRecording = false;
  private readonly recorder: WriteBatcher<{ job: DeliveryJob; attempt: FinishedAttempt }, DeliveryAttemptRow>;
  private readonly backlog: BacklogBound;

  constructor(private readonly options: DeliveryWorkerOptions) {
    this.now = options.now ?? (() => new Date());
    this.recorder = new WriteBatcher((finished) => options.knex.transaction((trx) => this.writeAttempts(trx, finished)), maxRecordBatch);
    this.leaseMs = options.httpClient.timeoutMs + leaseMarginMs;
    this.backlog = new BacklogBound(options.backlogRate, options.behindAfterMs, options.endpointConcurrency, () => this.requestPass());
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.poller = setInterval(() => this.requestPass(), this.options.pollIntervalMs);
    this.poller.unref();
    this.requestPass();
  }

  // Runs a pass now rather than at the next poll; fan-out calls it after
  // creating deliveries, with the endpoints they are owed to. When this
  // process already sends each of them as many as its bound allows, no claim
  // could take more now, and each of those answers runs a pass anyway. Does
  // nothing unless started.
  wake(endpointIds: readonly string[] = []): void {
    if (!this.running) return;
    const atBound = (id: string) => (this.sendingTo.get(id) ?? 0) >= this.options.endpointConcurrency;
    if (endpointIds.length > 0 && endpointIds.every(atBound)) return;
    this.requestPass();
  }

  // Claims nothing more and waits for the deliveries in flight.
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.poller);
    this.poller = undefined;
    this.backlog.stop();
    await this.pass;
    await Promise.all(this.inFlight);
    this.options.httpClient.close();
  }

  // One attempt now, whatever the delivery's status and schedule: a manual
  // resend. Undefined when the delivery does not exist or is in flight
  // elsewhere. A failed resend of a pending delivery keeps its retries; of a
  // finished one, it leaves the delivery failed.
  async resend(deliveryId: string): Promise<DeliveryAttemptRow | undefined> {
    const [job] = await this.claim({ deliveryId });
    return job && this.deliver(job);
  }

  private requestPass(): void {
    if (this.pass) {
      this.passRequested = true;
      return;
    }
    this.pass = this.runPasses().finally(() => (this.pass = undefined));
  }

  private async runPasses(): Promise<void> {
    do {
      this.passRequested = false;
      try {
        await this.claimAndStart();
      } catch (err) {
        this.options.logger.error({ err }, "webhook delivery pass failed");
      }
    } while (this.passRequested && this.running);
  }

  private async claimAndStart(): Promise<void> {
    const free = this.options.concurrency - this.sending;
    if (!this.running || free <= 0) return;
    // Answered attempts waiting to be recorded hold back new claims once they
    // fill a batch, so sending never outruns recording for long; the next
    // recording then runs the pass.
    if (this.answered.size >= maxRecordBatch) {
      this.heldForRecording = true;
      return;
    }
    const at = this.now().getTime();
    const bounded = this.backlog.bounded(at);
    const jobs = await this.claim({ limit: free, answered: [...this.answered], heldBack: this.backlog.heldBack(at, bounded) });
    this.backlog.claimed(jobs, at, bounded);
    for (const job of jobs) {
      this.sending += 1;
      this.sendingTo.set(job.endpoint_id, (this.sendingTo.get(job.endpoint_id) ?? 0) + 1);
      let sending = true;
      const answered = () => {
        if (!sending) return;
        sending = false;
        this.sending -= 1;
        const left = this.sendingTo.get(job.endpoint_id)! - 1;
        if (left > 0) this.sendingTo.set(job.endpoint_id, left);
        else this.sendingTo.delete(job.endpoint_id);
        this.answered.add(job.id);
        // A slot is free: more may be due.
        if (this.running) this.requestPass();
      };
      // The answer already ran a pass for the slot it freed. Recording frees
      // no more, so another pass is due only for claims held back while it
      // waited, or for the delivery itself when it is to be tried again.
      let passAfter = false;
      const task: Promise<void> = this.deliver(job, answered)
        .then(
          (recorded) => {
            passAfter = recorded.next_attempt_at !== null;
          },
          (err: unknown) => {
            // The lease runs out and the delivery is tried again then.
            this.options.logger.error({ err, deliveryId: job.id }, "webhook delivery not recorded");
            passAfter = true;
          },
        )
        .finally(() => {
          answered();
          this.answered.delete(job.id);
          this.inFlight.delete(task);
          if (this.heldForRecording) {
            this.heldForRecording = false;
            passAfter = true;
          }
          if (passAfter && this.running) this.requestPass();
        });
      this.inFlight.add(task);
    }
  }

  // Leases due deliveries (or one named delivery) with the database's clock,
  // so workers on different hosts agree, and returns them with what sending
  // needs (URL, secrets, event) in the same statement. SKIP LOCKED lets
  // concurrent claims pass each other; the outer conditions are checked again
  // on the locked row, so a delivery another worker just leased is not taken.
  // `answered` names this process's deliveries that are leased only until
  // their attempts are recorded; they do not count against the bound.
  // `heldBack` names endpoints left out of this claim (backlogs over their rate).
  private async claim(which: { limit: number; answered: string[]; heldBack: string[] } | { deliveryId: string }): Promise<DeliveryJob[]> {
    const lease = "now() + ?::integer * interval '1 millisecond'";
    const withDetails = (claimed: string) =>
      `with claimed as (${claimed}
         returning id, tenant_id, environment, event_id, endpoint_id, status, attempt_count, next_attempt_at)
       select c.id, c.tenant_id, c.environment, c.event_id, c.endpoint_id, c.status, c.attempt_count,
              e.url, e.secrets, o.payload, o.traceparent,
              (extract(epoch from now() - c.next_attempt_at) * 1000)::float8 as waited_ms
         from claimed c
         join webhook_endpoints e on e.id = c.endpoint_id
         join webhook_events o on o.id = c.event_id
        order by c.next_attempt_at, c.id`;
    if ("deliveryId" in which) {
      const result = await this.options.knex.raw<{ rows: DeliveryJob[] }>(
        withDetails(
          `update webhook_deliveries set claimed_until = ${lease}
            where id = ? and (claimed_until is null or claimed_until <= now())`,
        ),
        [this.leaseMs, which.deliveryId],
      );
      return result.rows;
    }
    // Per enabled endpoint, its oldest due deliveries up to the bound less
    // those already leased, each endpoint read through its own index range
    // (endpoint, due time, id) and only as far as it takes: the cost follows
    // the endpoints and what one pass takes, never the length of any
    // endpoint's queue, so a long backlog at one endpoint neither slows
    // claims nor crowds out the others. The lists travel as arrays, so the
    // text is the same on every pass and is planned once per connection, not
    // on each pass (planning it cost Postgres more than running it).
    const result = await runPrepared<DeliveryJob>(this.options.knex, {
      sql: withDetails(
        `with open_endpoints as materialized (
           select e.id,
                  ?::integer - (select count(*) from webhook_deliveries l
                                 where l.endpoint_id = e.id and l.status = 'pending'
                                   and l.claimed_until > now() and l.id <> all(?::text[])) as free
             from webhook_endpoints e
            where e.status = 'enabled' and e.id <> all(?::text[])
         ), candidates as materialized (
           select c.id, c.next_attempt_at
             from open_endpoints oe
             cross join lateral (
               select d.id, d.next_attempt_at from webhook_deliveries d
                where d.endpoint_id = oe.id and d.status = 'pending' and d.next_attempt_at <= now()
                  and (d.claimed_until is null or d.claimed_until <= now())
                order by d.endpoint_id, d.next_attempt_at, d.id
                limit greatest(oe.free, 0)) c
            order by c.next_attempt_at, c.id
            limit ?
         )
         update webhook_deliveries set claimed_until = ${lease}
          where id in (
            select w.id from webhook_deliveries w
             where w.id in (select id from candidates)
               and w.status = 'pending' and w.next_attempt_at <= now()
               and (w.claimed_until is null or w.claimed_until <= now())
             for update skip locked)`,
      ),
      bindings: [this.options.endpointConcurrency, which.answered, which.heldBack, which.limit, this.leaseMs],
    });
    return result.rows;
  }

  // Each attempt is a client span in the trace of the change that wrote the event.
  // `answered` is called once the endpoint has answered (or the request failed).
  private async deliver(job: DeliveryJob, answered: () => void = () => {}): Promise<DeliveryAttemptRow> {
    const span = tracer.startSpan(
      "webhook delivery",
      {
        kind: SpanKind.CLIENT,
        attributes: {
          "onerouter.delivery_id": job.id,
          "onerouter.endpoint_id": job.endpoint_id,
          "onerouter.event_id": job.event_id,
          "onerouter.attempt_number": job.attempt_count + 1,
        },
      },
      contextOfTraceparent(job.traceparent),
    );
    try {
      const recorded = await this.attempt(job, answered);
      span.setAttribute("http.response.status_code", recorded.response_status_code);
      if (recorded.status !== "succeeded") spanFailed(span, recorded.error || `HTTP ${recorded.response_status_code}`);
      return recorded;
    } catch (err) {
      spanFailed(span, (err as Error).message);
      throw err;
    } finally {
      span.end();
    }
  }

  private async attempt(job: DeliveryJob, answered: () => void): Promise<DeliveryAttemptRow> {
    const startedAt = this.now();
    const event = fromBinary(EventSchema, job.payload);
    const body = toJsonString(EventSchema, event);
    const secrets = activeSecrets(this.options.masterKeys, job.endpoint_id, parseJson(job.secrets), startedAt);
    const result = await this.options.httpClient.post({
      url: job.url,
      environment: job.environment,
      body,
      headers: {
        // webhook-id is the event id, so a redelivery is recognisably the same message.
        ...signStandardWebhook({ id: event.id, timestamp: startedAt, body, secrets }),
        "content-type": "application/json",
        "user-agent": webhookUserAgent,
      },
    });
    answered();
    const attemptNumber = job.attempt_count + 1;
    let verdict = this.options.schedule.verdict(result, attemptNumber, this.now());
    // A resend of a finished delivery is one extra attempt, not a new schedule.
    if (verdict.outcome === "retry" && job.status !== "pending") verdict = { outcome: "exhausted" };
    const recorded = await this.record(job, { attemptNumber, startedAt, result, verdict });
    this.options.metrics?.attempt(verdict.outcome === "succeeded", result.latencyMs);
    return recorded;
  }

  private async record(job: DeliveryJob, attempt: FinishedAttempt): Promise<DeliveryAttemptRow> {
    const row = await this.recorder.add({ job, attempt });
    if (attempt.verdict.outcome !== "succeeded") {
      this.options.logger.warn(
        {
          deliveryId: job.id,
          endpointId: job.endpoint_id,
          statusCode: attempt.result.statusCode,
          error: attempt.result.error,
          outcome: attempt.verdict.outcome,
        },
        "webhook delivery attempt failed",
      );
    }
    return row;
  }

  // A batch of finished attempts: their rows, their deliveries' next state
  // and their endpoints' recovery in one statement of one text whatever the
  // batch's size (rows travel as JSON, ids as an array), so a batch is one
  // round trip and Postgres plans it once per connection; failures, rare
  // and each its own story, follow.
  private async writeAttempts(trx: Knex.Transaction, finished: { job: DeliveryJob; attempt: FinishedAttempt }[]): Promise<DeliveryAttemptRow[]> {
    const now = this.now();
    const rows = finished.map(({ job, attempt }) => ({
      id: newId("dlva"),
      delivery_id: job.id,
      tenant_id: job.tenant_id,
      environment: job.environment,
      event_id: job.event_id,
      endpoint_id: job.endpoint_id,
      attempt_number: attempt.attemptNumber,
      status: attempt.verdict.outcome === "succeeded" ? ("succeeded" as const) : ("failed" as const),
      response_status_code: attempt.result.statusCode,
      response_body: attempt.result.responseBody,
      latency_ms: attempt.result.latencyMs,
      error: attempt.result.error,
      next_attempt_at: attempt.verdict.outcome === "retry" ? attempt.verdict.nextAttemptAt : null,
      created_at: attempt.startedAt,
    }));
    const deliveries = rows.map((row, i) => {
      const outcome = finished[i]!.attempt.verdict.outcome;
      const status = outcome === "succeeded" ? "succeeded" : outcome === "retry" ? "pending" : "failed";
      return { id: row.delivery_id, status, attempt_count: row.attempt_number, next_attempt_at: row.next_attempt_at };
    });
    const { recovered, failures } = endpointHealth(finished);
    const attempts = insertRowsSql("webhook_delivery_attempts", rows);
    const inserted = await runPrepared<DeliveryAttemptRow>(
      trx,
      withParts(
        [
          ["attempts", { sql: `${attempts.sql} returning *`, bindings: attempts.bindings }],
          [
            "deliveries",
            {
              sql: `update webhook_deliveries d
                       set status = v.status, attempt_count = v.attempt_count, next_attempt_at = v.next_attempt_at,
                           claimed_until = null, updated_at = ?
                      from json_to_recordset(?::json) as v(id text, status text, attempt_count integer, next_attempt_at timestamptz)
                     where d.id = v.id`,
              bindings: [now, JSON.stringify(deliveries)],
            },
          ],
          // A success ends its endpoint's run of failures.
          ["recovered", { sql: "update webhook_endpoints set failing_since = null where id = any(?::text[]) and failing_since is not null", bindings: [recovered] }],
        ],
        { sql: 'select * from "attempts"', bindings: [] },
      ),
    );
    for (const { job, verdict } of failures) await this.recordEndpointFailure(trx, job, verdict);
    const byId = new Map(inserted.rows.map((row) => [row.id, row]));
    return rows.map((row) => byId.get(row.id)!);
  }

  private async recordEndpointFailure(trx: Knex.Transaction, job: DeliveryJob, verdict: AttemptVerdict): Promise<void> {
    const now = this.now();
    const endpoints = trx("webhook_endpoints").where({ id: job.endpoint_id });
    const [endpoint] = await endpoints
      .update({ failing_since: trx.raw("coalesce(failing_since, ?::timestamptz)", [now]) })
      .returning<{ status: string; failing_since: Date | string }[]>(["status", "failing_since"]);
    if (!endpoint || endpoint.status !== "enabled") return;
    const failingSince = new Date(endpoint.failing_since);
    let reason: string;
    if (verdict.outcome === "gone") {
      reason = "the endpoint answered 410 Gone, which means it takes no more deliveries";
    } else if (now.getTime() - failingSince.getTime() >= this.options.disableAfterMs) {
      reason = `every delivery has failed since ${failingSince.toISOString()}, longer than ${describeDuration(this.options.disableAfterMs)}`;
    } else {
      return;
    }
    // Conditional on still being enabled, so concurrent failures disable it (and tell) once.
    const [disabled] = await trx("webhook_endpoints")
      .where({ id: job.endpoint_id, status: "enabled" })
      .update({ status: "failing", disabled_reason: reason, updated_at: now })
      .returning<{ url: string }[]>(["url"]);
    if (!disabled) return;
    await appendEvent(trx, {
      type: EventType.WEBHOOK_ENDPOINT_DISABLED,
      tenantId: job.tenant_id,
      environment: environmentFromName(job.environment),
      data: { case: "webhookEndpoint", value: { endpointId: job.endpoint_id, url: disabled.url, reason } },
    });
    this.options.logger.warn({ endpointId: job.endpoint_id, tenantId: job.tenant_id, reason }, "webhook endpoint disabled");
  }
}

// Which endpoints have a backlog, as this process last claimed from them, and
// a token bucket for the deliveries it starts to them while deliveries to
// others are on time. A pass may overdraw the bucket by what it claims at
// once (at most the per-endpoint bound each); the next ones wait until it has
// filled again, and a timer wakes the worker then.
class BacklogBound {
  private readonly endpoints = new Set<string>();
  private onTimeAt = Number.NEGATIVE_INFINITY;
  private tokens: number;
  private tokensAt = Number.NEGATIVE_INFINITY;
  private refill: NodeJS.Timeout | undefined;

  constructor(
    private readonly ratePerSecond: number,
    private readonly behindAfterMs: number,
    private readonly capacity: number,
    private readonly wake: () => void,
  ) {
    this.tokens = capacity;
  }

  // Whether backlogs are held to their rate at this instant (ms). With no
  // delivery on time lately the backlogs known are forgotten, so endpoints
  // deleted or disabled meanwhile are not kept; the next claims find the
  // backlogs still there again.
  bounded(at: number): boolean {
    if (at - this.onTimeAt > onTimeWindowMs) {
      this.endpoints.clear();
      return false;
    }
    return this.endpoints.size > 0;
  }

  // The endpoints to leave out of a claim now: every backlog, once the bucket is empty.
  heldBack(at: number, bounded: boolean): string[] {
    if (!bounded) return [];
    this.tokens = Math.min(this.capacity, this.tokens + ((at - this.tokensAt) / 1000) * this.ratePerSecond);
    this.tokensAt = at;
    if (this.tokens >= 1) return [];
    if (!this.refill) {
      this.refill = setTimeout(() => {
        this.refill = undefined;
        this.wake();
      }, Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000));
      this.refill.unref();
    }
    return [...this.endpoints];
  }

  claimed(jobs: { endpoint_id: string; waited_ms: number }[], at: number, bounded: boolean): void {
    for (const job of jobs) {
      if (job.waited_ms > this.behindAfterMs) {
        this.endpoints.add(job.endpoint_id);
        if (bounded) this.tokens -= 1;
      } else {
        this.endpoints.delete(job.endpoint_id);
        if (job.waited_ms < onTimeMs) this.onTimeAt = at;
      }
    }
  }

  stop(): void {
    clearTimeout(this.refill);
    this.refill = undefined;
  }
}

// The worker as the configuration describes it.
export function createDeliveryWorker(deps: {
  knex: Knex;
  masterKeys: MasterKeyring;
  logger: Logger;
  config: Config["webhookDelivery"];
  // Where the delivery metrics are exported, when given.
  registry?: Registry;
}): DeliveryWorker {
  const { config } = deps;
  return new DeliveryWorker({
    knex: deps.knex,
    masterKeys: deps.masterKeys,
    logger: deps.logger,
    httpClient: new WebhookHttpClient({ allowedCidrs: config.allowedCidrs, timeoutMs: config.timeoutMs }),
    schedule: new RetrySchedule({ delaysMs: config.retryScheduleMs, scale: config.retryScale }),
    concurrency: config.concurrency,
    endpointConcurrency: config.endpointConcurrency,
    pollIntervalMs: config.pollMs,
    disableAfterMs: config.disableAfterMs,
    backlogRate: config.backlogRate,
    behindAfterMs: config.behindAfterMs,
    ...(deps.registry && { metrics: new DeliveryMetrics(deps.registry, deps.knex, deps.logger) }),
  });
}

// jsonb arrives parsed from pg and as text from PGlite.
function parseJson<T>(value: T | string): T {
  return typeof value === "string" ? (JSON.parse(value) as T) : value;
}

function describeDuration(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, "day"],
    [3_600_000, "hour"],
    [60_000, "minute"],
    [1000, "second"],
  ];
  for (const [size, name] of units) {
    if (ms >= size && ms % size === 0) return `${ms / size} ${name}${ms === size ? "" : "s"}`;
  }
  return `${ms} ms`;
}

// Per endpoint, in the order the attempts finished: a success ends the
// endpoint's run of failures (`recovered`); a failure after it starts one or,
// once the run has lasted the disable period (or at once on 410 Gone),
// disables the endpoint and tells the tenant (`failures`, for
// recordEndpointFailure). Both in id order, so batches at the same endpoints
// lock them in the same order.
function endpointHealth(finished: { job: DeliveryJob; attempt: FinishedAttempt }[]): {
  recovered: string[];
  failures: { job: DeliveryJob; verdict: AttemptVerdict }[];
} {
  const recovered = new Set<string>();
  const failedSince = new Map<string, { job: DeliveryJob; verdict: AttemptVerdict }>();
  for (const { job, attempt } of finished) {
    const { verdict } = attempt;
    if (verdict.outcome === "succeeded") {
      recovered.add(job.endpoint_id);
      failedSince.delete(job.endpoint_id);
    } else if (failedSince.get(job.endpoint_id)?.verdict.outcome !== "gone") {
      failedSince.set(job.endpoint_id, { job, verdict });
    }
  }
  return {
    recovered: [...recovered].sort(),
    failures: [...failedSince.values()].sort((a, b) => (a.job.endpoint_id < b.job.endpoint_id ? -1 : 1)),
  };
}
