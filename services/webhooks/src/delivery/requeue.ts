import { newId, type Knex } from "@onerouter/core";

// Making deliveries due again, for RecoverEndpoint. The worker picks them up
// at its next pass (wake it to start at once). A delivery carries on with its
// retry schedule where it stopped, which after a used-up schedule is a single
// attempt; the webhook-id stays the event id.

// Failed deliveries to the endpoint created since the given time; returns how many.
export async function requeueFailedDeliveries(knex: Knex, endpointId: string, since: Date): Promise<number> {
  return knex("webhook_deliveries")
    .where({ endpoint_id: endpointId, status: "failed" })
    .where("created_at", ">=", since)
    .update({ status: "pending", next_attempt_at: knex.fn.now(), updated_at: knex.fn.now() });
}

// A new delivery of an event to an endpoint, due at once.
export function pendingDelivery(scope: { tenant_id: string; environment: string }, eventId: string, endpointId: string, now: Date) {
  return {
    id: newId("dlv"),
    ...scope,
    event_id: eventId,
    endpoint_id: endpointId,
    status: "pending",
    next_attempt_at: now,
    created_at: now,
    updated_at: now,
  };
}
