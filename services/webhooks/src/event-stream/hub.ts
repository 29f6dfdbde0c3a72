import { listenForCommits, Poller, type CommitWatch, type Knex, type Logger } from "@onerouter/core";
import { webhookEventsNotifyChannel } from "../migrations";
import { latestEventSeq } from "./sequence";

export interface StreamScope {
  tenant_id: string;
  environment: string;
}

// What a stream waits for: new events of its scope, or nothing for a while.
export type StreamWake = "events" | "quiet" | "closed";

export interface StreamSubscription {
  // Resolves "events" when events of the scope were recorded since the last
  // call (or since subscribing), "quiet" after `quietMs` without any, and
  // "closed" once the hub stops.
  next(quietMs: number): Promise<StreamWake>;
  close(): void;
}

const scopeKey = (scope: StreamScope) => `${scope.tenant_id}/${scope.environment}`;

class Subscriber implements StreamSubscription {
  private pending = false;
  private closed = false;
  private resolve: ((wake: StreamWake) => void) | undefined;

  constructor(private readonly unsubscribe: () => void) {}

  notify(wake: "events" | "closed"): void {
    if (wake === "closed") this.closed = true;
    else this.pending = true;
    this.settle();
  }

  next(quietMs: number): Promise<StreamWake> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.settle("quiet"), quietMs);
      this.resolve = (wake) => {
        clearTimeout(timer);
        resolve(wake);
      };
      this.settle();
    });
  }

  close(): void {
    this.unsubscribe();
    this.notify("closed");
  }

  private settle(timedOut?: "quiet"): void {
    const resolve = this.resolve;
    if (!resolve) return;
    let wake: StreamWake | undefined = timedOut;
    if (this.closed) wake = "closed";
    else if (this.pending) wake = "events";
    if (!wake) return;
    this.pending = false;
    this.resolve = undefined;
    resolve(wake);
  }
}

// Tells open event streams when their tenant's events are recorded. One
// query serves every stream of the process: the hub reads the (seq, scope)
// of events recorded since its last look and wakes the streams of those
// scopes, which then read their own events. It looks when fan-out in this
// process commits (wake) and, on a Postgres server, when another process's
// recording commits (the webhook_events trigger's NOTIFY); every
// `pollIntervalMs` too, a safety net for a notification lost with a dropped
// connection. It reads nothing while no stream is open, and listens only
// while one is: every event recorded would otherwise wake this process and
// its notification connection's backend for nothing.
export class EventStreamHub {
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  private readonly poller: Poller;
  private watch: CommitWatch | undefined;
  private running = false;
  private lastSeq: string | undefined;

  constructor(
    private readonly knex: Knex,
    private readonly logger: Logger,
    options: { pollIntervalMs?: number } = {},
  ) {
    this.poller = new Poller("event stream hub", () => this.look(), {
      intervalMs: options.pollIntervalMs ?? 2000,
      errorBackoffMs: 1000,
      logger,
    });
  }

  start(): void {
    this.running = true;
    this.poller.start();
  }

  // Events were recorded in this process.
  wake(): void {
    this.poller.wake();
  }

  // Ends every open stream.
  async stop(): Promise<void> {
    this.running = false;
    await this.watch?.close();
    this.watch = undefined;
    await this.poller.stop();
    for (const set of this.subscribers.values()) for (const subscriber of set) subscriber.notify("closed");
    this.subscribers.clear();
  }

  subscribe(scope: StreamScope): StreamSubscription {
    const key = scopeKey(scope);
    const set = this.subscribers.get(key) ?? new Set<Subscriber>();
    this.subscribers.set(key, set);
    const subscriber = new Subscriber(() => {
      set.delete(subscriber);
      if (set.size === 0 && this.subscribers.get(key) === set) this.subscribers.delete(key);
      if (this.subscribers.size === 0) this.stopListening();
    });
    set.add(subscriber);
    // Once listening, it looks (listening counts as a commit heard), so
    // whatever was recorded before then is found too.
    if (this.running) this.watch ??= listenForCommits(this.knex, webhookEventsNotifyChannel, () => this.poller.wake(), this.logger);
    return subscriber;
  }

  // True when more recorded events may be waiting.
  private async look(): Promise<boolean> {
    if (this.subscribers.size === 0) {
      this.lastSeq = undefined;
      return false;
    }
    if (this.lastSeq === undefined) {
      this.lastSeq = await latestEventSeq(this.knex);
      // Whatever was recorded before the hub's first look is read by each stream itself.
      this.notifyAll();
      return false;
    }
    const batch = 1000;
    const rows = (await this.knex("webhook_events")
      .where("seq", ">", this.lastSeq)
      .orderBy("seq")
      .limit(batch)
      .select("seq", "tenant_id", "environment")) as (StreamScope & { seq: string | number })[];
    if (rows.length === 0) return false;
    this.lastSeq = String(rows[rows.length - 1]!.seq);
    for (const key of new Set(rows.map(scopeKey))) {
      for (const subscriber of this.subscribers.get(key) ?? []) subscriber.notify("events");
    }
    return rows.length === batch;
  }

  private stopListening(): void {
    const watch = this.watch;
    this.watch = undefined;
    void watch?.close().catch((err: unknown) => this.logger.warn({ err }, "event stream hub could not stop listening"));
  }

  private notifyAll(): void {
    for (const set of this.subscribers.values()) for (const subscriber of set) subscriber.notify("events");
  }
}
