import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { EventSchema, type Event } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { currentTraceparent, insertRowsSql, runPrepared, withParts, type Knex } from "@onerouter/core";
import { pendingDelivery } from "../delivery/requeue";
import { fromJson } from "../endpoints";
import { lockEventSequence } from "../event-stream/sequence";
import { matchesEventType } from "../filters";

// Fan-out turns an event into the deliveries it owes: one per enabled
// endpoint of the event's tenant and environment whose filters match. The
// event is copied into webhook_events in the same transaction as its
// deliveries; that insert is the de-duplication: a crash before the commit
// repeats the fan-out, and after the commit the copy exists, so the event is
// never fanned out again. A concurrent fan-out of the same event waits on the
// copy's key and then finds it taken.

// An event as a feed hands it over: the whole onerouter.events.v1.Event, so
// fan-out never reads the producer's table.
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

// Called by a feed inside the transaction that decides the events are handled.
export type EventHandler = (trx: Knex.Transaction, events: FeedEvent[]) => Promise<void>;

// Whatever delivers the deliveries; woken when new ones are due, with the
// endpoints they are owed to.
export interface DeliveryWaker {
  wake(endpointIds: readonly string[]): void;
}

export function createFanOut(worker: DeliveryWaker): EventHandler {
  return async (trx, events) => {
    const owedTo = await fanOut(trx, events);
    // Woken once the deliveries are visible to the worker's own queries.
    if (owedTo.length > 0) trx.executionPromise.then(() => worker.wake(owedTo), () => {});
  };
}

// Returns the endpoint of each delivery created.
export async function fanOut(trx: Knex.Transaction, events: FeedEvent[]): Promise<string[]> {
  const { owed, endpoints } = await recordEvents(trx, events);
  if (owed.length === 0) return [];

  const now = new Date();
  const deliveries = owed.flatMap((event) =>
    (endpoints.get(scopeKey(event)) ?? [])
      // An endpoint receives what happened after it was registered, however
      // late the fan-out runs.
      .filter((endpoint) => new Date(endpoint.created_at) <= event.createdAt)
      .filter((endpoint) => matchesEventType(fromJson(endpoint.event_types), event.type))
      .map((endpoint) => pendingDelivery({ tenant_id: event.tenantId, environment: event.environment }, event.id, endpoint.id, now)),
  );
  // 500 rows × 9 columns stays far below Postgres's bind parameter limit.
  for (let i = 0; i < deliveries.length; i += 500) {
    await trx("webhook_deliveries")
      .insert(deliveries.slice(i, i + 500))
      .onConflict(["event_id", "endpoint_id"])
      .ignore();
  }
  return deliveries.map((d) => d.endpoint_id);
}

interface EndpointFilter {
  id: string;
  tenant_id: string;
  environment: string;
  event_types: string[] | string;
  created_at: Date | string;
}

const scopeKey = (s: { tenantId: string; environment: string }) => `${s.tenantId}/${s.environment}`;

// Copies the events into webhook_events and returns those not copied before,
// with the enabled endpoints of their tenants and environments, in one
// statement: a batch whose tenants have no endpoints costs that statement
// alone. Rows are inserted in id order so concurrent fan-outs take the keys
// in the same order. An event of a tenant this database does not have
// (another deployment's, on a shared stream) is passed by.
async function recordEvents(trx: Knex.Transaction, events: FeedEvent[]): Promise<{ owed: FeedEvent[]; endpoints: Map<string, EndpointFilter[]> }> {
  const byId = new Map(events.map((e) => [e.id, e]));
  if (byId.size === 0) return { owed: [], endpoints: new Map() };
  await lockEventSequence(trx);
  const insert = insertRowsSql("webhook_events", [...byId.values()].map(eventRow), { where: "tenant_id in (select id from tenants)", orderBy: "id" });
  const { sql, bindings } = withParts(
    [
      ["recorded", { sql: `${insert.sql} on conflict (id) do nothing returning id, tenant_id, environment`, bindings: insert.bindings }],
      [
        "endpoints",
        {
          sql: `select id, tenant_id, environment, event_types, created_at from webhook_endpoints
                 where status = 'enabled' and (tenant_id, environment) in (select tenant_id, environment from "recorded")`,
          bindings: [],
        },
      ],
    ],
    {
      sql: `select (select coalesce(json_agg(id), '[]'::json) from "recorded") as recorded,
                   (select coalesce(json_agg("endpoints"), '[]'::json) from "endpoints") as endpoints`,
      bindings: [],
    },
  );
  const { rows } = await runPrepared<{ recorded: string[]; endpoints: EndpointFilter[] }>(trx, { sql, bindings });
  const { recorded, endpoints } = rows[0]!;
  const byScope = new Map<string, EndpointFilter[]>();
  for (const endpoint of endpoints) {
    const key = scopeKey({ tenantId: endpoint.tenant_id, environment: endpoint.environment });
    byScope.set(key, [...(byScope.get(key) ?? []), endpoint]);
  }
  const owed = recorded.map((id) => byId.get(id)!).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { owed, endpoints: byScope };
}

// Copies an event whose deliveries were made by other means (a test event
// owed to one endpoint), so fan-out finds it handled.
export async function recordFannedOutEvent(trx: Knex, event: Event): Promise<void> {
  const fed = feedEventFrom(toBinary(EventSchema, event));
  if (!fed) throw new Error(`event ${event.id} is not a complete onerouter Event`);
  await lockEventSequence(trx);
  await trx("webhook_events").insert(eventRow({ ...fed, traceparent: currentTraceparent() }));
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
