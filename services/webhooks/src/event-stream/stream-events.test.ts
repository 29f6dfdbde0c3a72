import type { Client } from "@connectrpc/connect";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { createTenant } from "@onerouter/admin";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { EventType, type Event } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { WebhookService } from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import { appendEvent } from "@onerouter/core";
import { grpcServiceClient, startTestOneRouter, type TestOneRouter } from "@onerouter/server/testing";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

// StreamEvents end to end on the whole product: events go from the outbox
// through fan-out to the streams of their tenant, over Connect on HTTP/1.1
// and HTTP/2 and over gRPC (grpc-js, built from the .proto at test time).

let app: TestOneRouter;

beforeAll(async () => {
  app = await startTestOneRouter();
}, 120_000);
afterAll(async () => app?.close());

const bearer = (secret: string): Interceptor => (next) => (req) => {
  req.header.set("Authorization", `Bearer ${secret}`);
  return next(req);
};

function connectClient(secret: string, httpVersion: "1.1" | "2"): Client<typeof WebhookService> {
  return createClient(
    WebhookService,
    createConnectTransport({ baseUrl: app.baseUrl, httpVersion, interceptors: [bearer(secret)] }),
  );
}

async function tenantWithKey(name: string): Promise<{ tenantId: string; secret: string }> {
  const tenant = await createTenant(app.db.knex, { name, planId: "enterprise" });
  return { tenantId: tenant.id, secret: (await app.createKey(Environment.TEST, tenant.id)).secret };
}

function append(tenantId: string, type = EventType.PAYMENT_SUCCEEDED, environment = Environment.TEST): Promise<Event> {
  return appendEvent(app.db.knex, { type, tenantId, environment, data: { case: "test", value: { message: "streamed" } } });
}

// Events streams can resume after: one per tenant, appended and recorded by fan-out.
async function recordedEvents(tenantIds: string[]): Promise<Event[]> {
  const events = await Promise.all(tenantIds.map((tenantId) => append(tenantId)));
  const ids = events.map((e) => e.id);
  await vi.waitFor(
    async () => expect(await app.db.knex("webhook_events").whereIn("id", ids).pluck("id")).toHaveLength(ids.length),
    { timeout: 10_000, interval: 20 },
  );
  return events;
}

const recordedEvent = async (tenantId: string) => (await recordedEvents([tenantId]))[0]!;

// The next `count` events of a stream, heartbeats passed by.
async function take(stream: AsyncIterator<{ event?: Event }>, count: number): Promise<Event[]> {
  const events: Event[] = [];
  while (events.length < count) {
    const next = await stream.next();
    if (next.done) throw new Error(`the stream ended after ${events.length} events`);
    if (next.value.event) events.push(next.value.event);
  }
  return events;
}

describe("StreamEvents", () => {
  it("resumes from a cursor with every event recorded while disconnected, once each, in order (Connect, HTTP/1.1)", async () => {
    const { tenantId, secret } = await tenantWithKey("Resuming");
    const client = connectClient(secret, "1.1");
    const start = await recordedEvent(tenantId);

    const first = new AbortController();
    const before = client.streamEvents({ afterEventId: start.id }, { signal: first.signal })[Symbol.asyncIterator]();
    const e1 = await append(tenantId);
    const [received] = await take(before, 1);
    expect(received!.id).toBe(e1.id);
    first.abort();

    const whileAway = [];
    for (let i = 0; i < 5; i++) whileAway.push(await append(tenantId, i % 2 ? EventType.REFUND_SUCCEEDED : EventType.PAYMENT_CAPTURED));

    const second = new AbortController();
    const resumed = client.streamEvents({ afterEventId: received!.id }, { signal: second.signal })[Symbol.asyncIterator]();
    const caughtUp = await take(resumed, 5);
    const live = await append(tenantId);
    const [afterResume] = await take(resumed, 1);
    second.abort();

    expect(caughtUp.map((e) => e.id)).toEqual(whileAway.map((e) => e.id));
    expect(caughtUp.map((e) => e.type)).toEqual(whileAway.map((e) => e.type));
    expect(afterResume!.id).toBe(live.id);
  });

  it("streams only the event types asked for, and only the key's environment", async () => {
    const { tenantId, secret } = await tenantWithKey("Filtering");
    const start = await recordedEvent(tenantId);
    const controller = new AbortController();
    const stream = connectClient(secret, "2")
      .streamEvents({ afterEventId: start.id, eventTypes: ["refund.*", "message.sent"] }, { signal: controller.signal })
      [Symbol.asyncIterator]();
    await append(tenantId, EventType.PAYMENT_SUCCEEDED);
    const refund = await append(tenantId, EventType.REFUND_FAILED);
    await append(tenantId, EventType.MESSAGE_SENT, Environment.LIVE);
    const sent = await append(tenantId, EventType.MESSAGE_SENT);
    const events = await take(stream, 2);
    controller.abort();
    expect(events.map((e) => e.id)).toEqual([refund.id, sent.id]);
  });

  it("answers NOT_FOUND for another tenant's event as a cursor, and INVALID_ARGUMENT for a bad filter", async () => {
    const mine = await tenantWithKey("Mine");
    const theirs = await tenantWithKey("Theirs");
    const their = await recordedEvent(theirs.tenantId);
    const client = connectClient(mine.secret, "1.1");
    const refused = async (req: { afterEventId?: string; eventTypes?: string[] }) => {
      try {
        for await (const _ of client.streamEvents(req)) break;
      } catch (err) {
        return ConnectError.from(err);
      }
      throw new Error("the stream was not refused");
    };
    expect((await refused({ afterEventId: their.id })).code).toBe(Code.NotFound);
    const badFilter = await refused({ eventTypes: ["payment.nope"] });
    expect(badFilter.code).toBe(Code.InvalidArgument);
    expect(badFilter.message).toContain("event_types");
  });

  it("gives 100 concurrent streams of different tenants only their own events", async () => {
    const tenants = await Promise.all(Array.from({ length: 100 }, (_, i) => tenantWithKey(`Concurrent ${i}`)));
    const starts = await recordedEvents(tenants.map((t) => t.tenantId));
    const controllers = tenants.map(() => new AbortController());
    const streams = tenants.map((t, i) =>
      connectClient(t.secret, "2")
        .streamEvents({ afterEventId: starts[i]!.id }, { signal: controllers[i]!.signal })
        [Symbol.asyncIterator](),
    );
    const appended = await Promise.all(tenants.map(async (t) => [await append(t.tenantId), await append(t.tenantId)]));
    const received = await Promise.all(streams.map((s) => take(s, 2)));
    for (const controller of controllers) controller.abort();
    received.forEach((events, i) => {
      expect(events.map((e) => e.id)).toEqual(appended[i]!.map((e) => e.id));
      expect(events.every((e) => e.tenantId === tenants[i]!.tenantId)).toBe(true);
    });
  });

  it("streams over gRPC (grpc-js) and resumes there too", async () => {
    const { tenantId, secret } = await tenantWithKey("Over gRPC");
    const start = await recordedEvent(tenantId);
    const client = grpcWebhookClient(app.server.port);
    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${secret}`);
    const read = (after: string, count: number) =>
      new Promise<{ id: string; type: string; tenant_id: string }[]>((resolve, reject) => {
        const call = client.StreamEvents({ after_event_id: after }, metadata) as grpc.ClientReadableStream<{
          event?: { id: string; type: string; tenant_id: string };
        }>;
        const events: { id: string; type: string; tenant_id: string }[] = [];
        call.on("data", (message) => {
          if (message.event) events.push(message.event);
          if (events.length === count) {
            call.cancel();
            resolve(events);
          }
        });
        call.on("error", (err: grpc.ServiceError) => {
          if (err.code !== grpc.status.CANCELLED) reject(err);
        });
      });
    const e1 = await append(tenantId);
    const e2 = await append(tenantId);
    expect((await read(start.id, 1)).map((e) => e.id)).toEqual([e1.id]);
    const got = await read(e1.id, 1);
    expect(got.map((e) => [e.id, e.type, e.tenant_id])).toEqual([[e2.id, "payment.succeeded", tenantId]]);
    client.close();
  });
});

function grpcWebhookClient(port: number) {
  return grpcServiceClient(port, "onerouter/webhooks/v1/webhooks.proto", "onerouter.webhooks.v1.WebhookService") as grpc.Client & {
    StreamEvents(request: object, metadata: grpc.Metadata): unknown;
  };
}
