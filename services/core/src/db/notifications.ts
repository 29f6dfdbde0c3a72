import pg from "pg";
import type { Logger } from "../logging";

// At every commit that sends a NOTIFY, Postgres signals each backend that
// listens in the database, whatever its channels: each listening connection
// costs every such commit some Postgres CPU (about 35 µs here), in every
// process of the mesh. So a process listens on one connection per database,
// shared by all that wait for notifications in it (the outbox's readers, the
// event streams, the caches' change notices): opened with the first
// subscription, closed with the last, reopened when lost. Each subscription
// hears when it stops and starts listening, since notifications in between
// are missed.

export interface NotificationHandlers {
  notification(payload: string): void;
  // Listening on the channel, at first or again after a loss.
  listening?(): void;
  // Not listening any more, until `listening`.
  lost?(): void;
}

export interface NotificationSubscription {
  // Listening at the moment.
  readonly active: boolean;
  close(): Promise<void>;
}

// The shared connection's name in pg_stat_activity.
export const notificationsApplicationName = "onerouter notifications";

const reconnectMs = 1000;

interface Subscriber {
  handlers: NotificationHandlers;
  active: boolean;
}

class NotificationConnection {
  private readonly channels = new Map<string, Set<Subscriber>>();
  // Connected, listening on `listened`.
  private client: pg.Client | undefined;
  private readonly listened = new Set<string>();
  private connecting = false;
  // The connection being opened, until it is.
  private opening: Promise<void> = Promise.resolve();
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly connection: string | pg.ClientConfig,
    private readonly logger: Logger | undefined,
    private readonly unused: () => void,
  ) {}

  subscribe(channel: string, handlers: NotificationHandlers): NotificationSubscription {
    const subscriber: Subscriber = { handlers, active: false };
    const subscribers = this.channels.get(channel) ?? new Set();
    this.channels.set(channel, subscribers);
    subscribers.add(subscriber);
    if (this.client && this.listened.has(channel)) {
      subscriber.active = true;
      queueMicrotask(() => subscriber.active && handlers.listening?.());
    } else if (this.client) {
      void this.listenOn(this.client, [channel]);
    } else if (!this.connecting && !this.retry) {
      this.opening = this.connect();
    }
    return {
      get active() {
        return subscriber.active;
      },
      close: () => this.unsubscribe(channel, subscriber),
    };
  }

  private async unsubscribe(channel: string, subscriber: Subscriber): Promise<void> {
    subscriber.active = false;
    const subscribers = this.channels.get(channel);
    if (!subscribers?.delete(subscriber) || subscribers.size > 0) return;
    this.channels.delete(channel);
    const client = this.client;
    if (this.channels.size === 0) {
      this.unused();
      clearTimeout(this.retry);
      this.retry = undefined;
      this.client = undefined;
      this.listened.clear();
      await client?.end().catch(() => undefined);
      // One being opened closes itself, finding no channels.
      await this.opening;
    } else if (client && this.listened.delete(channel)) {
      await client.query(`unlisten ${pg.escapeIdentifier(channel)}`).catch(() => undefined);
    }
  }

  private async connect(): Promise<void> {
    this.connecting = true;
    this.retry = undefined;
    const next = new pg.Client({
      ...(typeof this.connection === "string" ? { connectionString: this.connection } : this.connection),
      application_name: notificationsApplicationName,
    });
    next.on("notification", (n) => {
      for (const subscriber of this.channels.get(n.channel) ?? []) if (subscriber.active) subscriber.handlers.notification(n.payload ?? "");
    });
    next.on("error", (err) => this.drop(next, err));
    next.on("end", () => this.drop(next));
    try {
      await next.connect();
    } catch (err) {
      this.connecting = false;
      await next.end().catch(() => undefined);
      this.reconnectLater(err);
      return;
    }
    this.connecting = false;
    if (this.channels.size === 0) {
      await next.end().catch(() => undefined);
      return;
    }
    this.client = next;
    this.listened.clear();
    await this.listenOn(next, [...this.channels.keys()]);
  }

  // LISTENs on the channels not listened yet, then tells their subscribers.
  private async listenOn(client: pg.Client, channels: string[]): Promise<void> {
    for (const channel of channels) {
      if (this.listened.has(channel)) continue;
      try {
        await client.query(`listen ${pg.escapeIdentifier(channel)}`);
      } catch (err) {
        client.emit("error", err);
        return;
      }
      if (this.client !== client) return;
      if (!this.channels.has(channel)) {
        // Its last subscription closed while the LISTEN was on the way, and
        // found nothing listened to undo.
        await client.query(`unlisten ${pg.escapeIdentifier(channel)}`).catch(() => undefined);
        continue;
      }
      this.listened.add(channel);
      for (const subscriber of this.channels.get(channel) ?? []) {
        if (subscriber.active) continue;
        subscriber.active = true;
        subscriber.handlers.listening?.();
      }
    }
  }

  private drop(client: pg.Client, err?: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.listened.clear();
    void client.end().catch(() => undefined);
    for (const subscribers of this.channels.values()) {
      for (const subscriber of subscribers) {
        if (!subscriber.active) continue;
        subscriber.active = false;
        subscriber.handlers.lost?.();
      }
    }
    this.reconnectLater(err);
  }

  private reconnectLater(err: unknown): void {
    if (this.channels.size === 0 || this.retry) return;
    this.logger?.warn({ err, channels: [...this.channels.keys()] }, "the notification connection failed; listening again in a second, meanwhile caches are bypassed and outbox readers poll");
    this.retry = setTimeout(() => (this.opening = this.connect()), reconnectMs);
    this.retry.unref();
  }
}

const connections = new Map<string, NotificationConnection>();

// Calls the handlers for each NOTIFY on the channel, on this process's
// notification connection to the database (`connection`, as pg takes it).
export function listenForNotifications(
  connection: string | pg.ClientConfig,
  channel: string,
  handlers: NotificationHandlers,
  logger?: Logger,
): NotificationSubscription {
  const key = typeof connection === "string" ? connection : JSON.stringify(connection);
  let shared = connections.get(key);
  if (!shared) {
    shared = new NotificationConnection(connection, logger, () => connections.delete(key));
    connections.set(key, shared);
  }
  return shared.subscribe(channel, handlers);
}
