import { fromBinary, toJsonString } from "@bufbuild/protobuf";
import { EventSchema, EventType } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { appendEvent, contextOfTraceparent, environmentFromName, newId, spanFailed, tracer, type Config, type Knex, type Logger, type MasterKeyring } from "@onerouter/core";
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
// delivery while it is in flight.
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

interface ClaimedDelivery {
  id: string;
  tenant_id: string;
  environment: EndpointEnvironment;
  event_id: string;
  endpoint_id: string;
  // Status before the claim; a resend may claim any delivery.
  status: "pending" | "succeeded" | "failed";
  attempt_count: number;
}

interface DeliveryJob extends ClaimedDelivery {
  url: string;
  secrets: StoredSecret[] | string;
  payload: Uint8Array;
  // The trace of the change that wrote the event, which the delivery's span joins.
  traceparent: string | null;
}

export class DeliveryWorker {
  private readonly now: () => Date;
  private readonly leaseMs: number;
  private running = false;
  private poller: NodeJS.Timeout | undefined;
  // Passes run one at a time, so this process's leases are counted before the next claim.
  private pass: Promise<void> | undefined;
  private passRequested = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: DeliveryWorkerOptions) {
    this.now = options.now ?? (() => new Date());
    this.leaseMs = options.httpClient.timeoutMs + leaseMarginMs;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.poller = setInterval(() => this.requestPass(), this.options.pollIntervalMs);
    this.poller.unref();
    this.requestPass();
  }

  // Runs a pass now rather than at the next poll; fan-out calls it after
  // creating deliveries. Does nothing unless started.
  wake(): void {
    if (this.running) this.requestPass();
  }

  // Claims nothing more and waits for the deliveries in flight.
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.poller);
    this.poller = undefined;
    await this.pass;
    await Promise.all(this.inFlight);
  }

  // One attempt now, whatever the delivery's status and schedule: a manual
  // resend. Undefined when the delivery does not exist or is in flight
  // elsewhere. A failed resend of a pending delivery keeps its retries; of a
  // finished one, it leaves the delivery failed.
  async resend(deliveryId: string): Promise<DeliveryAttemptRow | undefined> {
    const claimed = await this.claim({ deliveryId });
    const [job] = await this.load(claimed, { enabledOnly: false });
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
    const free = this.options.concurrency - this.inFlight.size;
    if (!this.running || free <= 0) return;
    const jobs = await this.load(await this.claim({ limit: free }), { enabledOnly: true });
    for (const job of jobs) {
      const task: Promise<void> = this.deliver(job)
        .then(
          () => undefined,
          // The lease runs out and the delivery is tried again then.
          (err: unknown) => this.options.logger.error({ err, deliveryId: job.id }, "webhook delivery not recorded"),
        )
        .finally(() => {
          this.inFlight.delete(task);
          // A slot is free: more may be due.
          if (this.running) this.requestPass();
        });
      this.inFlight.add(task);
    }
  }

  // Leases due deliveries (or one named delivery) with the database's clock,
  // so workers on different hosts agree. SKIP LOCKED lets concurrent claims
  // pass each other; the outer conditions are checked again on the locked
  // row, so a delivery another worker just leased is not taken.
  private async claim(which: { limit: number } | { deliveryId: string }): Promise<ClaimedDelivery[]> {
    const lease = "now() + ?::integer * interval '1 millisecond'";
    const returning = "returning id, tenant_id, environment, event_id, endpoint_id, status, attempt_count";
    if ("deliveryId" in which) {
      const result = await this.options.knex.raw<{ rows: ClaimedDelivery[] }>(
        `update webhook_deliveries set claimed_until = ${lease}
          where id = ? and (claimed_until is null or claimed_until <= now())
          ${returning}`,
        [this.leaseMs, which.deliveryId],
      );
      return result.rows;
    }
    // Per endpoint, the oldest due deliveries up to the bound less those already leased.
    const result = await this.options.knex.raw<{ rows: ClaimedDelivery[] }>(
      // The ranking is materialized once; inlined, the planner may re-run it
      // for every candidate row.
      `with ranked as materialized (
         select d.id,
                row_number() over (partition by d.endpoint_id order by d.next_attempt_at, d.id) as position,
                coalesce(leased.deliveries, 0) as leased
           from webhook_deliveries d
           join webhook_endpoints e on e.id = d.endpoint_id and e.status = 'enabled'
           left join (
             select endpoint_id, count(*) as deliveries from webhook_deliveries
              where status = 'pending' and claimed_until > now()
              group by endpoint_id
           ) leased on leased.endpoint_id = d.endpoint_id
          where d.status = 'pending' and d.next_attempt_at <= now()
            and (d.claimed_until is null or d.claimed_until <= now())
       ), eligible as materialized (
         select id from ranked where position + leased <= ?
       )
       update webhook_deliveries set claimed_until = ${lease}
        where id in (
          select w.id from webhook_deliveries w
            join eligible on eligible.id = w.id
           where w.status = 'pending' and w.next_attempt_at <= now()
             and (w.claimed_until is null or w.claimed_until <= now())
           order by w.next_attempt_at
           limit ?
           for update of w skip locked)
        ${returning}`,
      [this.options.endpointConcurrency, this.leaseMs, which.limit],
    );
    return result.rows;
  }

  private async load(claimed: ClaimedDelivery[], filter: { enabledOnly: boolean }): Promise<DeliveryJob[]> {
    if (claimed.length === 0) return [];
    const query = this.options.knex("webhook_deliveries as d")
      .join("webhook_endpoints as e", "e.id", "d.endpoint_id")
      .join("webhook_events as o", "o.id", "d.event_id")
      .whereIn(
        "d.id",
        claimed.map((c) => c.id),
      )
      .select<{ id: string; url: string; secrets: StoredSecret[] | string; payload: Uint8Array; traceparent: string | null }[]>(
        "d.id",
        "e.url",
        "e.secrets",
        "o.payload",
        "o.traceparent",
      );
    if (filter.enabledOnly) query.where("e.status", "enabled");
    const details = new Map((await query).map((row) => [row.id, row]));
    // Claimed as the endpoint was being disabled: released untouched.
    const skipped = claimed.filter((c) => !details.has(c.id)).map((c) => c.id);
    if (skipped.length > 0) {
      await this.options.knex("webhook_deliveries").whereIn("id", skipped).update({ claimed_until: null });
    }
    return claimed.flatMap((c) => {
      const detail = details.get(c.id);
      return detail ? [{ ...c, ...detail }] : [];
    });
  }

  // Each attempt is a client span in the trace of the change that wrote the event.
  private async deliver(job: DeliveryJob): Promise<DeliveryAttemptRow> {
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
      const recorded = await this.attempt(job);
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

  private async attempt(job: DeliveryJob): Promise<DeliveryAttemptRow> {
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
    const attemptNumber = job.attempt_count + 1;
    let verdict = this.options.schedule.verdict(result, attemptNumber, this.now());
    // A resend of a finished delivery is one extra attempt, not a new schedule.
    if (verdict.outcome === "retry" && job.status !== "pending") verdict = { outcome: "exhausted" };
    const recorded = await this.record(job, { attemptNumber, startedAt, result, verdict });
    this.options.metrics?.attempt(verdict.outcome === "succeeded", result.latencyMs);
    return recorded;
  }

  private async record(
    job: DeliveryJob,
    attempt: { attemptNumber: number; startedAt: Date; result: WebhookPostResult; verdict: AttemptVerdict },
  ): Promise<DeliveryAttemptRow> {
    const { result, verdict } = attempt;
    const nextAttemptAt = verdict.outcome === "retry" ? verdict.nextAttemptAt : null;
    const succeeded = verdict.outcome === "succeeded";
    const row = await this.options.knex.transaction(async (trx) => {
      const [inserted] = await trx("webhook_delivery_attempts")
        .insert({
          id: newId("dlva"),
          delivery_id: job.id,
          tenant_id: job.tenant_id,
          environment: job.environment,
          event_id: job.event_id,
          endpoint_id: job.endpoint_id,
          attempt_number: attempt.attemptNumber,
          status: succeeded ? "succeeded" : "failed",
          response_status_code: result.statusCode,
          response_body: result.responseBody,
          latency_ms: result.latencyMs,
          error: result.error,
          next_attempt_at: nextAttemptAt,
          created_at: attempt.startedAt,
        })
        .returning<DeliveryAttemptRow[]>("*");
      await trx("webhook_deliveries")
        .where({ id: job.id })
        .update({
          status: succeeded ? "succeeded" : verdict.outcome === "retry" ? "pending" : "failed",
          attempt_count: attempt.attemptNumber,
          next_attempt_at: nextAttemptAt,
          claimed_until: null,
          updated_at: this.now(),
        });
      await this.recordEndpointHealth(trx, job, verdict);
      return inserted!;
    });
    if (!succeeded) {
      this.options.logger.debug(
        { deliveryId: job.id, endpointId: job.endpoint_id, statusCode: result.statusCode, error: result.error, outcome: verdict.outcome },
        "webhook delivery attempt failed",
      );
    }
    return row;
  }

  // A success ends the endpoint's run of failures; a failure starts one or,
  // once it has lasted the disable period (or at once on 410 Gone), disables
  // the endpoint and tells the tenant with a webhook_endpoint.disabled event.
  private async recordEndpointHealth(trx: Knex.Transaction, job: DeliveryJob, verdict: AttemptVerdict): Promise<void> {
    const now = this.now();
    const endpoints = trx("webhook_endpoints").where({ id: job.endpoint_id });
    if (verdict.outcome === "succeeded") {
      await endpoints.whereNotNull("failing_since").update({ failing_since: null });
      return;
    }
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
