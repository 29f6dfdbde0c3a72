import { create, fromBinary } from "@bufbuild/protobuf";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import { EventSchema } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import {
  StreamEventsResponseSchema,
  type WebhookService,
} from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import { apiError, notFound, requireCaller, type Knex } from "@onerouter/core";
import { requireId, scopeOf, validEventTypes, type Scope } from "../endpoints";
import { whereEventTypeMatches } from "../filters";
import type { EventStreamHub } from "./hub";
import { latestEventSeq } from "./sequence";

// A stream quiet this long gets a heartbeat, well inside the idle timeouts
// of proxies (Envoy's route here allows 60 s).
export const heartbeatMs = 25_000;
const pageSize = 100;

interface StreamedRow {
  seq: string | number;
  payload: Uint8Array;
}

// StreamEvents: the caller's events of its environment in seq order (the
// order they committed, see sequence.ts), read page by page from the
// webhooks room's copy of the events; between pages the stream waits for
// the hub to say its scope has new events.
export function streamEventsMethod(
  knex: Knex,
  hub: EventStreamHub,
): Pick<ServiceImpl<typeof WebhookService>, "streamEvents"> {
  return {
    async *streamEvents(req, ctx) {
      const scope = scopeOf(requireCaller(ctx));
      const types = validEventTypes("event_types", req.eventTypes);
      // Subscribed before the first read, so nothing recorded after it goes unannounced.
      const subscription = hub.subscribe(scope);
      const closeOnAbort = () => subscription.close();
      ctx.signal.addEventListener("abort", closeOnAbort, { once: true });
      try {
        let after = req.afterEventId
          ? await seqOf(knex, scope, requireId("after_event_id", req.afterEventId))
          : await latestEventSeq(knex);
        // Says the stream is open: what is recorded from here on reaches it.
        yield create(StreamEventsResponseSchema, {});
        for (;;) {
          const rows = await eventsAfter(knex, scope, types, after);
          for (const row of rows) {
            yield create(StreamEventsResponseSchema, { event: fromBinary(EventSchema, new Uint8Array(row.payload)) });
            after = String(row.seq);
          }
          if (rows.length === pageSize) continue;
          const wake = await subscription.next(heartbeatMs);
          if (wake === "quiet") yield create(StreamEventsResponseSchema, {});
          if (wake === "closed") {
            if (ctx.signal.aborted) return;
            throw apiError(
              Code.Unavailable,
              "SERVER_SHUTTING_DOWN",
              "the server is shutting down; resume with after_event_id set to the last event received",
            );
          }
        }
      } finally {
        ctx.signal.removeEventListener("abort", closeOnAbort);
        subscription.close();
      }
    },
  };
}

async function seqOf(knex: Knex, scope: Scope, eventId: string): Promise<string> {
  const row = (await knex("webhook_events").where({ ...scope, id: eventId }).first("seq")) as { seq: string | number } | undefined;
  if (!row) throw notFound("event", eventId);
  return String(row.seq);
}

function eventsAfter(knex: Knex, scope: Scope, types: string[], after: string): Promise<StreamedRow[]> {
  const query = knex("webhook_events").where(scope).where("seq", ">", after);
  return whereEventTypeMatches(query, types).orderBy("seq").limit(pageSize).select("seq", "payload") as Promise<StreamedRow[]>;
}
