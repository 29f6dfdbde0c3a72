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
import { copyWith } from "./objects";
import { signalOutboxCommit } from "./outbox-signal";
import { currentTraceparent } from "./tracing";

export { outboxMigrations } from "./outbox-migrations";

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
  const { event, row } = outboxEvent(init);
  await trx("outbox_events").insert(row);
  signalOutboxCommit(trx);
  return event;
}

// An event and its outbox row, for a caller that writes the row in a
// statement of its own (then calls signalOutboxCommit with that statement's
// transaction, or once the statement is done outside one).
export function outboxEvent(init: EventInit): { event: Event; row: Record<string, unknown> } {
  const now = new Date();
  const event = create(EventSchema, copyWith(init, { type: eventTypeName(init.type) }));
  event.id = newId("evt");
  event.createTime = timestampFromDate(now);
  const traceparent = currentTraceparent();
  const row = {
    id: event.id,
    tenant_id: event.tenantId,
    environment: event.environment === 2 ? "live" : "test",
    type: event.type,
    payload: Buffer.from(toBinary(EventSchema, event)),
    created_at: now,
    // Only when traced, so the column is written only where there is something to carry.
    ...(traceparent && { traceparent }),
  };
  return { event, row };
}
