import { newId, type Knex } from "@onerouter/core";
import { fromJson } from "../endpoints";
import { matchesEventType } from "../filters";

// Fan-out turns an event into the deliveries it owes: one per enabled
// endpoint of the event's tenant and environment whose filters match. The
// deliveries and the event's fanned_out_at commit together, so a crash before
// the commit repeats the fan-out (the unique (event_id, endpoint_id) absorbs
// it) and after the commit the event is never fanned out again.

// What fan-out needs to know about an event; both transports provide it.
export interface FeedEvent {
  id: string;
  tenantId: string;
  environment: "test" | "live";
  type: string;
}

// Called by a feed inside the transaction that decides the events are handled.
export type EventHandler = (trx: Knex.Transaction, events: FeedEvent[]) => Promise<void>;

// Whatever delivers the deliveries; woken when new ones are due.
export interface DeliveryWaker {
  wake(): void;
}

export function createFanOut(worker: DeliveryWaker): EventHandler {
  return async (trx, events) => {
    const created = await fanOut(trx, events);
    // Woken once the deliveries are visible to the worker's own queries.
    if (created > 0) trx.executionPromise.then(() => worker.wake(), () => {});
  };
}

// Returns the number of deliveries created.
export async function fanOut(trx: Knex.Transaction, events: FeedEvent[]): Promise<number> {
  if (events.length === 0) return 0;
  // Locks the events still owed a fan-out. A concurrent fan-out of the same
  // event waits here and then finds fanned_out_at set; an event whose row is
  // gone (pruned, or another deployment's) is skipped.
  const pending = new Map(
    (
      await trx("outbox_events")
        .whereIn(
          "id",
          events.map((e) => e.id),
        )
        .whereNull("fanned_out_at")
        .orderBy("id")
        .forUpdate()
        .select<{ id: string; created_at: Date }[]>("id", "created_at")
    ).map((r) => [r.id, new Date(r.created_at)]),
  );
  const owed = events.filter((e) => pending.has(e.id));
  if (owed.length === 0) return 0;

  const endpoints = await endpointsByScope(trx, owed);
  const now = new Date();
  const deliveries = owed.flatMap((event) =>
    (endpoints.get(scopeKey(event)) ?? [])
      // An endpoint receives what happened after it was registered, however
      // late the fan-out runs.
      .filter((endpoint) => new Date(endpoint.created_at) <= pending.get(event.id)!)
      .filter((endpoint) => matchesEventType(fromJson(endpoint.event_types), event.type))
      .map((endpoint) => ({
        id: newId("dlv"),
        tenant_id: event.tenantId,
        environment: event.environment,
        event_id: event.id,
        endpoint_id: endpoint.id,
        status: "pending",
        next_attempt_at: now,
        created_at: now,
        updated_at: now,
      })),
  );
  // 500 rows × 9 columns stays far below Postgres's bind parameter limit.
  for (let i = 0; i < deliveries.length; i += 500) {
    await trx("webhook_deliveries")
      .insert(deliveries.slice(i, i + 500))
      .onConflict(["event_id", "endpoint_id"])
      .ignore();
  }
  await trx("outbox_events")
    .whereIn("id", [...pending.keys()])
    .update({ fanned_out_at: now });
  return deliveries.length;
}

interface EndpointFilter {
  id: string;
  tenant_id: string;
  environment: string;
  event_types: string[] | string;
  created_at: Date;
}

const scopeKey = (s: { tenantId: string; environment: string }) => `${s.tenantId}/${s.environment}`;

async function endpointsByScope(trx: Knex.Transaction, events: FeedEvent[]): Promise<Map<string, EndpointFilter[]>> {
  const scopes = new Map(events.map((e) => [scopeKey(e), e]));
  const rows = await trx("webhook_endpoints")
    .where("status", "enabled")
    .where((q) => {
      for (const scope of scopes.values()) {
        q.orWhere({ tenant_id: scope.tenantId, environment: scope.environment });
      }
    })
    .select<EndpointFilter[]>("id", "tenant_id", "environment", "event_types", "created_at");
  const byScope = new Map<string, EndpointFilter[]>();
  for (const row of rows) {
    const key = scopeKey({ tenantId: row.tenant_id, environment: row.environment });
    byScope.set(key, [...(byScope.get(key) ?? []), row]);
  }
  return byScope;
}
