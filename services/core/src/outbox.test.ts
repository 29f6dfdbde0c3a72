import { EventType, EventTypeSchema } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { expect, it } from "vitest";
import { eventTypeName, eventTypeNames } from "./outbox";

it("names every event type events.proto declares, once", () => {
  const declared = EventTypeSchema.values.map((v) => v.number).filter((n) => n !== EventType.UNSPECIFIED);
  expect([...eventTypeNames.keys()]).toEqual(declared);
  const names = [...eventTypeNames.values()];
  expect(new Set(names).size).toBe(names.length);
  for (const name of names) expect(name).toMatch(/^[a-z_]+\.[a-z_]+$/);
  expect(eventTypeName(EventType.PAYMENT_SUCCEEDED)).toBe("payment.succeeded");
  expect(eventTypeName(EventType.WEBHOOK_ENDPOINT_DISABLED)).toBe("webhook_endpoint.disabled");
});

it("refuses to write an event without a type", () => {
  expect(() => eventTypeName(EventType.UNSPECIFIED)).toThrow(/UNSPECIFIED/);
});
