import { AckPolicy, DeliverPolicy, jetstreamManager, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import { eventStreamName, eventSubjectPrefix, type EventStream, type Knex, type Logger } from "@onerouter/core";
import type { EventFeed } from "./feed";
import { fanOut, feedEventFrom, type DeliveryWaker, type FeedEvent } from "./fanout";

export interface JetStreamFeedOptions {
  // The durable consumer every dispatcher replica shares.
  consumerName?: string;
  // How long a delivered, unacknowledged event waits before JetStream redelivers it.
  ackWaitMs?: number;
  batchSize?: number;
}

const msToNanos = (ms: number) => ms * 1_000_000;

// Mesh mode's feed: a durable JetStream consumer with explicit acks. Events
// are acknowledged only after their fan-out committed, so a crash or a NATS
// restart before that redelivers them; fan-out skips events already fanned out.
// Each message is the whole binary Event, so nothing is read from the outbox.
export class JetStreamFeed implements EventFeed {
  private messages: ConsumerMessages | undefined;
  private running = false;
  private consuming: Promise<void> | undefined;
  private processing: Promise<void> | undefined;
  // Received, not yet handed to fan-out; JetStream's max_ack_pending bounds it.
  private buffer: JsMsg[] = [];
  private signal: (() => void) | undefined;

  constructor(
    private readonly knex: Knex,
    private readonly stream: EventStream,
    private readonly logger: Logger,
    private readonly options: JetStreamFeedOptions = {},
  ) {}

  private get consumerName(): string {
    return this.options.consumerName ?? "onerouter-webhooks-dispatcher";
  }

  async start(waker: DeliveryWaker): Promise<void> {
    if (this.running) return;
    await this.ensureConsumer();
    this.running = true;
    this.consuming = this.consume();
    this.processing = this.process(waker);
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.messages?.stop();
    this.notify();
    await this.consuming;
    await this.processing;
    // Handed back now rather than after the ack wait.
    for (const msg of this.buffer.splice(0)) msg.nak();
  }

  private async ensureConsumer(): Promise<void> {
    const manager = await jetstreamManager(this.stream.connection);
    const settings = { ack_wait: msToNanos(this.options.ackWaitMs ?? 30_000), max_ack_pending: 1000 };
    const existing = await manager.consumers.info(eventStreamName, this.consumerName).catch(() => undefined);
    if (existing) {
      await manager.consumers.update(eventStreamName, this.consumerName, settings);
    } else {
      await manager.consumers.add(eventStreamName, {
        durable_name: this.consumerName,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subject: `${eventSubjectPrefix}.>`,
        ...settings,
      });
    }
  }

  // The client re-pulls by itself after a reconnect; this loop only restarts
  // the subscription if it ends for another reason while the feed runs.
  private async consume(): Promise<void> {
    while (this.running) {
      try {
        const consumer = await this.stream.jetstream.consumers.get(eventStreamName, this.consumerName);
        this.messages = await consumer.consume({ max_messages: this.options.batchSize ?? 100 });
        if (!this.running) this.messages.stop();
        for await (const msg of this.messages) {
          this.buffer.push(msg);
          this.notify();
        }
      } catch (err) {
        if (this.running) this.logger.warn({ err }, "JetStream feed subscription ended; resubscribing");
      }
      if (this.running) await new Promise((r) => setTimeout(r, 1000));
    }
  }

  private async process(waker: DeliveryWaker): Promise<void> {
    while (this.running) {
      if (this.buffer.length === 0) {
        await new Promise<void>((resolve) => (this.signal = resolve));
        continue;
      }
      const batch = this.buffer.splice(0, this.options.batchSize ?? 100);
      const events: FeedEvent[] = [];
      const handled: JsMsg[] = [];
      for (const msg of batch) {
        const event = feedEventFrom(msg.data);
        if (event) {
          const traceparent = msg.headers?.get("traceparent");
          events.push(traceparent ? { ...event, traceparent } : event);
          handled.push(msg);
        } else {
          this.logger.error({ seq: msg.seq, subject: msg.subject }, "dropping a message that is not an onerouter Event");
          msg.term();
        }
      }
      try {
        const owedTo = await fanOut(this.knex, events);
        for (const msg of handled) msg.ack();
        if (owedTo.length > 0) waker.wake(owedTo);
      } catch (err) {
        this.logger.warn({ err, events: events.length }, "fan-out failed; JetStream will redeliver");
        for (const msg of handled) msg.nak(1000);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private notify(): void {
    this.signal?.();
    this.signal = undefined;
  }
}
