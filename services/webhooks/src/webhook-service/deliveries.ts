import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  DeliveryAttemptSchema,
  DeliveryStatus,
  ListDeliveryAttemptsResponseSchema,
  RecoverEndpointResponseSchema,
  ResendEventResponseSchema,
  type DeliveryAttempt,
  type WebhookService,
} from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import { invalidArgument, notFound, paginate, requireCaller, validTimestamp } from "@onerouter/core";
import { pendingDelivery, requeueFailedDeliveries } from "../delivery/requeue";
import type { DeliveryAttemptRow } from "../delivery/worker";
import { findEndpoint, requireEnabled, requireId, scopeOf } from "../endpoints";
import type { WebhookServiceDeps } from "./deps";

type DeliveryMethods = Pick<ServiceImpl<typeof WebhookService>, "listDeliveryAttempts" | "resendEvent" | "recoverEndpoint">;

interface DeliveryRow {
  id: string;
  attempt_count: number;
}

const attemptStatusByName: Record<DeliveryAttemptRow["status"], DeliveryStatus> = {
  succeeded: DeliveryStatus.SUCCEEDED,
  failed: DeliveryStatus.FAILED,
};

function toDeliveryAttempt(row: DeliveryAttemptRow): DeliveryAttempt {
  return create(DeliveryAttemptSchema, {
    id: row.id,
    eventId: row.event_id,
    endpointId: row.endpoint_id,
    status: attemptStatusByName[row.status],
    attemptNumber: row.attempt_number,
    responseStatusCode: row.response_status_code,
    responseBody: row.response_body,
    latency: durationFromMs(row.latency_ms),
    error: row.error,
    createTime: timestampFromDate(new Date(row.created_at)),
    nextAttemptTime: row.next_attempt_at ? timestampFromDate(new Date(row.next_attempt_at)) : undefined,
  });
}

export function deliveryMethods(deps: WebhookServiceDeps): DeliveryMethods {
  const { knex } = deps;
  const retentionDays = deps.eventRetentionDays ?? 30;

  return {
    async listDeliveryAttempts(req, ctx) {
      const caller = requireCaller(ctx);
      const query = knex("webhook_delivery_attempts").where(scopeOf(caller));
      if (req.endpointId !== "") query.where("endpoint_id", req.endpointId);
      if (req.eventId !== "") query.where("event_id", req.eventId);
      if (req.status !== DeliveryStatus.UNSPECIFIED) query.where("status", attemptStatusFilter(req.status));
      const { rows, nextPageToken } = await paginate<DeliveryAttemptRow>(query, req);
      return create(ListDeliveryAttemptsResponseSchema, { attempts: rows.map(toDeliveryAttempt), nextPageToken });
    },

    async resendEvent(req, ctx) {
      const caller = requireCaller(ctx);
      const eventId = requireId("event_id", req.eventId);
      const endpointId = requireId("endpoint_id", req.endpointId);
      const scope = scopeOf(caller);
      const now = new Date();
      const delivery = await knex.transaction(async (trx) => {
        const event = await trx("webhook_events").where({ ...scope, id: eventId }).first("id");
        if (!event) throw notFound("event", eventId);
        requireEnabled(await findEndpoint(trx, scope, endpointId, true));
        // Due now, whatever the delivery's state; an endpoint whose filters
        // did not match the event gets a delivery of its own.
        const [row] = (await trx("webhook_deliveries")
          .insert(pendingDelivery(scope, eventId, endpointId, now))
          .onConflict(["event_id", "endpoint_id"])
          .merge({ status: "pending", next_attempt_at: now, updated_at: now })
          .returning(["id", "attempt_count"])) as DeliveryRow[];
        return row!;
      });
      const attempt = await deps.worker?.resend(delivery.id);
      if (attempt) return create(ResendEventResponseSchema, { attempt: toDeliveryAttempt(attempt) });
      // Queued for a dispatcher (or in flight with one already): the attempt to come.
      return create(ResendEventResponseSchema, {
        attempt: create(DeliveryAttemptSchema, {
          eventId,
          endpointId,
          status: DeliveryStatus.PENDING,
          attemptNumber: delivery.attempt_count + 1,
          nextAttemptTime: timestampFromDate(now),
        }),
      });
    },

    async recoverEndpoint(req, ctx) {
      const caller = requireCaller(ctx);
      const endpointId = requireId("endpoint_id", req.endpointId);
      if (!req.sinceTime) throw invalidArgument("since_time", "is required");
      const since = validTimestamp("since_time", req.sinceTime);
      const now = new Date();
      if (since > now) throw invalidArgument("since_time", "must not be in the future");
      if (now.getTime() - since.getTime() > retentionDays * 86_400_000) {
        throw invalidArgument("since_time", `must be within the last ${retentionDays} days; older events are no longer kept`);
      }
      const scope = scopeOf(caller);
      const requeued = await knex.transaction(async (trx): Promise<number> => {
        const endpoint = await findEndpoint(trx, scope, endpointId, true);
        // A failing endpoint is what recovery is for; a disabled one is the customer's choice.
        if (endpoint.status === "disabled") requireEnabled(endpoint);
        if (endpoint.status === "failing") {
          await trx("webhook_endpoints")
            .where({ ...scope, id: endpointId })
            .update({ status: "enabled", disabled_reason: "", failing_since: null, updated_at: now });
        }
        return requeueFailedDeliveries(trx, endpointId, since);
      });
      // Requeued deliveries, and those a failing endpoint held back, are due now.
      deps.worker?.wake();
      return create(RecoverEndpointResponseSchema, { eventsRequeued: requeued });
    },
  };
}

// An attempt is made, so it succeeded or failed: a PENDING filter matches none.
function attemptStatusFilter(status: DeliveryStatus): string {
  if (status === DeliveryStatus.SUCCEEDED) return "succeeded";
  if (status === DeliveryStatus.FAILED) return "failed";
  if (status === DeliveryStatus.PENDING) return "pending";
  throw invalidArgument("status", "is not a DeliveryStatus");
}
