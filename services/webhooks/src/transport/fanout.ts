import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { EventSchema, type Event } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { copyWith, currentTraceparent, newIdFunction, runPrepared, selectRowsSql, withParts, type Knex, type Sql } from "@onerouter/core";
import { lockEventSequence, lockEventSequenceSql } from "../event-stream/sequence";

// Fan-out turns an event into the deliveries it owes: one per enabled
// endpoint of the event's tenant and environment whose filters match. The
// event is copied into webhook_events in the same statement as its
// deliveries; that insert is the de-duplication: a crash before the commit
// repeats the fan-out, and after the commit the copy exists, so the event is
// never fanned out again. A concurrent fan-out of the same event waits on the
// copy's key and then finds it taken. One statement, because a fan-out runs
// after every commit that adds events: at low load, each round trip of it is
// paid per commit.

// An event in hand, as the JetStream feed takes it from its message: the
// whole onerouter.events.v1.Event, so fan-out never reads the producer's table.
export interface FeedEvent {
  id: string;
  tenantId: string;
  environment: "test" | "live";
  type: string;
  createdAt: Date;
  // The binary onerouter.events.v1.Event.
  payload: Uint8Array;
  // The W3C traceparent of the change that wrote the event, when traced.
  traceparent?: string;
}

// Undefined when the bytes are not a complete onerouter Event.
export function feedEventFrom(payload: Uint8Array): FeedEvent | undefined {
  try {
    const event = fromBinary(EventSchema, payload);
    if (!event.id || !event.tenantId || !event.type || !event.createTime) return undefined;
    return {
      id: event.id,
      tenantId: event.tenantId,
      environment: event.environment === Environment.LIVE ? "live" : "test",
      type: event.type,
      createdAt: timestampDate(event.createTime),
      payload,
    };
  } catch {
    return undefined;
  }
}

// Whatever delivers the deliveries; woken when new ones are due, with the
// endpoints they are owed to.
export interface DeliveryWaker {
  wake(endpointIds: readonly string[]): void;
}

// What a fan-out statement answers: the endpoint of each delivery it made.
export interface FanOutAnswer {
  owed_to: string[];
}

// The fan-out of the events of the statement's part `source` (rows with
// webhook_events' columns id, tenant_id, environment, type, payload,
// created_at, traceparent) as the parts that follow it in one statement, and
// that statement's select. The events are copied in id order, so concurrent
// fan-outs take the keys in the same order, after the event sequence's lock;
// an event of a tenant this database does not have (another deployment's, on
// a shared stream) is passed by. Each event copied for the first time is
// owed to every enabled endpoint of its tenant and environment registered by
// its time (an endpoint receives what happened after it was registered,
// however late the fan-out runs; compared to the millisecond, an event's
// precision, so one in the endpoint's millisecond is owed) whose filters
// match its type: none means every type, "refund.*" every type under
// "refund.", anything else that type.
export function fanOutStatement(source: string, now: Date): { parts: [string, Sql][]; select: Sql } {
  return {
    parts: [
      ["sequence_lock", lockEventSequenceSql(source)],
      [
        "recorded",
        {
          sql: `insert into webhook_events (id, tenant_id, environment, type, payload, created_at, traceparent)
                select e.id, e.tenant_id, e.environment, e.type, e.payload, e.created_at, e.traceparent
                  from "${source}" e cross join "sequence_lock"
                 where e.tenant_id in (select id from tenants)
                 order by e.id
                on conflict (id) do nothing
                returning id, tenant_id, environment, type, created_at`,
          bindings: [],
        },
      ],
      [
        "owed",
        {
          sql: `insert into webhook_deliveries (id, tenant_id, environment, event_id, endpoint_id, status, next_attempt_at, created_at, updated_at)
                select ${newIdFunction}('dlv'), r.tenant_id, r.environment, r.id, p.id, 'pending', ?::timestamptz, ?::timestamptz, ?::timestamptz
                  from "recorded" r
                  join webhook_endpoints p on p.tenant_id = r.tenant_id and p.environment = r.environment
                 where p.status = 'enabled'
                   and date_trunc('milliseconds', p.created_at) <= r.created_at
                   and (jsonb_array_length(p.event_types) = 0
                        or exists (select 1 from jsonb_array_elements_text(p.event_types) as f(pattern)
                                    where f.pattern = r.type or (right(f.pattern, 2) = '.*' and starts_with(r.type, left(f.pattern, -1)))))
                 order by r.id, p.id
                on conflict (event_id, endpoint_id) do nothing
                returning endpoint_id`,
          bindings: [now, now, now],
        },
      ],
    ],
    select: { sql: `select coalesce((select json_agg(endpoint_id) from "owed"), '[]'::json) as owed_to`, bindings: [] },
  };
}

// Fans out events in hand (a feed's that are not in this database's outbox)
// in one statement, and returns the endpoint of each delivery made. Copying
// the event is the de-duplication: in a transaction that rolls back, nothing
// of it remains, and an event copied before is passed by.
export async function fanOut(knex: Knex, events: FeedEvent[]): Promise<string[]> {
  const byId = new Map(events.map((e) => [e.id, e]));
  if (byId.size === 0) return [];
  const { parts, select } = fanOutStatement("incoming", new Date());
  const { rows } = await runPrepared<FanOutAnswer>(knex, withParts([["incoming", selectRowsSql("webhook_events", [...byId.values()].map(eventRow))], ...parts], select));
  return rows[0]!.owed_to;
}

// Copies an event whose deliveries were made by other means (a test event
// owed to one endpoint), so fan-out finds it handled.
export async function recordFannedOutEvent(trx: Knex, event: Event): Promise<void> {
  const fed = feedEventFrom(toBinary(EventSchema, event));
  if (!fed) throw new Error(`event ${event.id} is not a complete onerouter Event`);
  await lockEventSequence(trx);
  await trx("webhook_events").insert(eventRow(copyWith(fed, { traceparent: currentTraceparent() })));
}

const eventRow = (e: FeedEvent) => ({
  id: e.id,
  tenant_id: e.tenantId,
  environment: e.environment,
  type: e.type,
  payload: Buffer.from(e.payload),
  created_at: e.createdAt,
  traceparent: e.traceparent ?? null,
});
