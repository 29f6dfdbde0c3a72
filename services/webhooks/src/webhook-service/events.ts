import { create, fromBinary } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { EventSchema, EventType } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import {
  GetEventResponseSchema,
  ListEventTypesResponseSchema,
  ListEventsResponseSchema,
  SendTestEventResponseSchema,
  type WebhookService,
} from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import { appendEvent, invalidArgument, notFound, paginate, requireCaller, whereCreatedIn } from "@onerouter/core";
import { findEndpoint, requireEnabled, requireId, scopeOf, validEventTypes } from "../endpoints";
import { eventTypes, testEventMessage } from "../event-types";
import { whereEventTypeMatches } from "../filters";
import { pendingDelivery } from "../delivery/requeue";
import { recordFannedOutEvent } from "../transport/fanout";
import type { WebhookServiceDeps } from "./deps";

type EventMethods = Pick<ServiceImpl<typeof WebhookService>, "sendTestEvent" | "listEventTypes" | "listEvents" | "getEvent">;

interface WebhookEventRow {
  id: string;
  payload: Uint8Array;
  created_at: Date;
}

const decodeEvent = (row: WebhookEventRow) => fromBinary(EventSchema, new Uint8Array(row.payload));

export function eventMethods(deps: WebhookServiceDeps): EventMethods {
  const { knex } = deps;

  return {
    async sendTestEvent(req, ctx) {
      const caller = requireCaller(ctx);
      const endpointId = requireId("endpoint_id", req.endpointId);
      const scope = scopeOf(caller);
      const event = await knex.transaction(async (trx) => {
        requireEnabled(await findEndpoint(trx, scope, endpointId, true));
        const appended = await appendEvent(trx, {
          type: EventType.WEBHOOK_TEST,
          tenantId: caller.tenantId,
          environment: caller.environment,
          data: { case: "test", value: { message: testEventMessage } },
        });
        const now = new Date();
        // Owed to this endpoint only: the event is copied and its delivery
        // made here, so fan-out by endpoint filters finds it handled.
        await recordFannedOutEvent(trx, appended);
        await trx("webhook_deliveries")
          .insert(pendingDelivery(scope, appended.id, endpointId, now))
          .onConflict(["event_id", "endpoint_id"])
          .ignore();
        return appended;
      });
      deps.worker?.wake();
      deps.eventHub.wake();
      return create(SendTestEventResponseSchema, { event });
    },

    async listEventTypes() {
      return create(ListEventTypesResponseSchema, { eventTypes });
    },

    async listEvents(req, ctx) {
      const caller = requireCaller(ctx);
      const query = knex("webhook_events").where(scopeOf(caller)).select("id", "payload", "created_at");
      whereEventTypeMatches(query, validEventTypes("event_types", req.eventTypes));
      // Half-open: start_time <= create_time < end_time. whereCreatedIn
      // refuses a bound outside the years 1 to 9999 first.
      whereCreatedIn(query, req.createTime);
      const { startTime, endTime } = req.createTime ?? {};
      if (startTime && endTime && timestampMs(startTime) >= timestampMs(endTime)) throw invalidArgument("create_time", "start_time must be before end_time");
      const { rows, nextPageToken } = await paginate<WebhookEventRow>(query, req);
      return create(ListEventsResponseSchema, { events: rows.map(decodeEvent), nextPageToken });
    },

    async getEvent(req, ctx) {
      const caller = requireCaller(ctx);
      const id = requireId("id", req.id);
      const row = (await knex("webhook_events")
        .where({ ...scopeOf(caller), id })
        .first("id", "payload", "created_at")) as WebhookEventRow | undefined;
      if (!row) throw notFound("event", id);
      return create(GetEventResponseSchema, { event: decodeEvent(row) });
    },
  };
}
