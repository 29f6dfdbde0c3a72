import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { EventSchema, type Event } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import type { Knex } from "knex";
import { newId } from "./ids";

// The outbox: an event is written in the same transaction as the state change
// it describes, so a committed change always has its event and a rolled-back
// one never does. The webhooks room delivers from here: it reads this table
// in embedded mode; in mesh mode OutboxRelay publishes each event to JetStream.

// id and create time are assigned here.
export type EventInit = MessageInitShape<typeof EventSchema>;

export async function appendEvent(trx: Knex, init: EventInit): Promise<Event> {
  const now = new Date();
  const event = create(EventSchema, init);
  event.id = newId("evt");
  event.createTime = timestampFromDate(now);
  await trx("outbox_events").insert({
    id: event.id,
    tenant_id: event.tenantId,
    environment: event.environment === 2 ? "live" : "test",
    type: event.type,
    payload: Buffer.from(toBinary(EventSchema, event)),
    created_at: now,
  });
  return event;
}
