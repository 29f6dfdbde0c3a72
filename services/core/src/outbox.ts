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
import type { Migration } from "./db/database";
import { outboxProgressMigration } from "./db/outbox-progress-migration";
import { newId } from "./ids";
import { outboxNotifyMigration, signalOutboxCommit } from "./outbox-signal";
import { currentTraceparent } from "./tracing";

// The outbox: an event is written in the same transaction as the state change
// it describes, so a committed change always has its event and a rolled-back
// one never does. The webhooks room delivers from here: it reads this table
// in embedded mode; in mesh mode OutboxRelay publishes each event to JetStream.

export const outboxMigrations: Migration[] = [
  {
    name: "20261121_002_core_outbox_events",
    async up(knex) {
      // Databases made before the outbox had a migration of its own got the
      // table from routing's first migration.
      if (await knex.schema.hasTable("outbox_events")) return;
      await knex.schema.createTable("outbox_events", (t) => {
        t.text("id").primary();
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("environment").notNullable();
        t.text("type").notNullable();
        // onerouter.events.v1.Event, binary.
        t.binary("payload").notNullable();
        t.timestamp("created_at", { useTz: true }).notNullable();
        t.timestamp("published_at", { useTz: true });
        t.index(["published_at", "created_at"]);
        t.index(["tenant_id", "environment", "created_at"]);
      });
    },
  },
  outboxProgressMigration,
  outboxNotifyMigration,
  {
    // The W3C traceparent of the change that wrote the event, so the event's
    // deliveries join that trace.
    name: "20261206_130_core_outbox_trace_context",
    async up(knex) {
      await knex.raw("alter table outbox_events add column if not exists traceparent text");
    },
  },
];

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
  const event = create(EventSchema, { ...init, type: eventTypeName(init.type) });
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
