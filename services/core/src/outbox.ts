import { create, getOption, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  event_type_name,
  EventSchema,
  EventType,
  EventTypeSchema,
  type Event,
} from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import type { Knex } from "knex";
import { newId } from "./ids";

// The outbox: an event is written in the same transaction as the state change
// it describes, so a committed change always has its event and a rolled-back
// one never does. The webhooks room delivers from here: it reads this table
// in embedded mode; in mesh mode OutboxRelay publishes each event to JetStream.

// Every EventType with the name events.proto gives it (Event.type), in the
// order the proto declares them.
export const eventTypeNames: ReadonlyMap<EventType, string> = new Map(
  EventTypeSchema.values
    .filter((value) => value.number !== EventType.UNSPECIFIED)
    .map((value) => [value.number, getOption(value, event_type_name)]),
);

export function eventTypeName(type: EventType): string {
  const name = eventTypeNames.get(type);
  if (!name) throw new Error(`event type ${EventType[type]} has no name in events.proto`);
  return name;
}

// id and create time are assigned here; type is written as its name.
export type EventInit = Omit<Exclude<MessageInitShape<typeof EventSchema>, Event>, "type"> & { type: EventType };

export async function appendEvent(trx: Knex, init: EventInit): Promise<Event> {
  const now = new Date();
  const event = create(EventSchema, { ...init, type: eventTypeName(init.type) });
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
