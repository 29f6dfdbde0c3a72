import { readFileSync } from "node:fs";
import { fromJsonString, toJsonString } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EventSchema } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { eventTypes, isKnownEventTypeFilter } from "./event-types";

// The contract names each value of its EventType enum, in declaration order.
function typesNamedByContract(): string[] {
  const proto = readFileSync(new URL("../../../proto/onerouter/events/v1/events.proto", import.meta.url), "utf8");
  const enumBody = proto.slice(proto.indexOf("enum EventType {"), proto.indexOf("message Event {"));
  const values = enumBody.match(/EVENT_TYPE_[A-Z_]+ = [1-9]\d*/g) ?? [];
  const names = [...enumBody.matchAll(/\(event_type_name\) = "([^"]+)"/g)].map((m) => m[1]!);
  expect(names.length).toBe(values.length);
  return names;
}

// What each family of types carries.
const dataCaseByPrefix: Record<string, string> = {
  payment: "payment",
  refund: "refund",
  message: "message",
  webhook_endpoint: "webhookEndpoint",
  webhook: "test",
  usage: "usage",
  provider_account: "providerAccount",
  pricing: "pricing",
};

describe("event types", () => {
  it("lists every type the product emits, once, with a description", () => {
    const names = eventTypes.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(typesNamedByContract());
    for (const type of eventTypes) expect(type.description.length, type.name).toBeGreaterThan(10);
  });

  it("gives examples that parse back as events of their type", () => {
    for (const type of eventTypes) {
      const event = fromJsonString(EventSchema, type.exampleJson);
      expect(event.type).toBe(type.name);
      expect(event.id).toMatch(/^evt_[0-9a-z]{26}$/);
      expect(event.tenantId).toMatch(/^ten_/);
      expect(event.createTime).toBeDefined();
      expect(event.data.case, type.name).toBe(dataCaseByPrefix[type.name.split(".")[0]!]);
      // What an endpoint receives is exactly the example's form.
      expect(JSON.parse(toJsonString(EventSchema, event))).toEqual(JSON.parse(type.exampleJson));
    }
  });

  it("accepts known types and prefixes of them", () => {
    for (const filter of [
      "payment.succeeded",
      "payment.*",
      "refund.*",
      "webhook_endpoint.*",
      "webhook.test",
      "webhook.*",
      "provider_account.*",
      "provider_account.circuit_opened",
      "pricing.changed",
      "usage.threshold_reached",
    ]) {
      expect(isKnownEventTypeFilter(filter), filter).toBe(true);
    }
    for (const filter of ["payment", "payment.unknown", "invoice.*", "*", ".*", "payment.succeeded.*", "PAYMENT.*", ""]) {
      expect(isKnownEventTypeFilter(filter), filter).toBe(false);
    }
  });
});
