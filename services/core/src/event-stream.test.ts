import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { connectEventStream, eventStreamName, eventSubject, type EventStream } from "./event-stream";

const natsUrl = inject("natsUrl");

describe.skipIf(!natsUrl)("JetStream event stream", () => {
  let stream: EventStream;
  beforeAll(async () => {
    stream = await connectEventStream(natsUrl);
  });
  afterAll(async () => stream?.close());

  it("creates the stream once and keeps it on reconnect", async () => {
    const again = await connectEventStream(natsUrl);
    await again.close();
    const manager = await jetstreamManager(stream.connection);
    const info = await manager.streams.info(eventStreamName);
    expect(info.config.subjects).toEqual(["onerouter.events.>"]);
    await stream.ping();
  });

  it("stores a repeated publish of one event id once", async () => {
    const subject = eventSubject("test", "payment.succeeded");
    const id = `evt_dedupe_${Date.now()}`;
    const first = await stream.jetstream.publish(subject, "x", { msgID: id });
    const second = await stream.jetstream.publish(subject, "x", { msgID: id });
    expect(first.duplicate).toBe(false);
    expect(second.duplicate).toBe(true);
    expect(second.seq).toBe(first.seq);
  });

  it("refuses a server without JetStream with a clear message", async () => {
    await expect(connectEventStream("nats://127.0.0.1:1")).rejects.toThrow();
  });
});
