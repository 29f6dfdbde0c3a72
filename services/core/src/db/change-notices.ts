import type { ClientConfig } from "pg";
import type { Logger } from "../logging";
import type { Database } from "./database";
import { listenForNotifications, type NotificationSubscription } from "./notifications";
import type { PGliteThread } from "./pglite-thread";

// Tells this process, after each commit, which tenants' rows changed in
// tables that it caches, whichever process committed: triggers on those
// tables send NOTIFY on a channel with the tenant id, and Postgres delivers
// it once the change is committed. With a server the process hears them on
// its notification connection (notifications.ts); PGlite, one process per
// data folder, delivers in process. While that connection is down nothing
// may be served from a cache, since notices may be missed: `live` says so,
// and listeners hear `lost`.

export interface ChangeListener {
  changed(tenantId: string): void;
  // Notices may have been missed: forget everything.
  lost(): void;
}

export interface ChangeNotices {
  readonly live: boolean;
  listen(channel: string, listener: ChangeListener): void;
  close(): Promise<void>;
}

export async function openChangeNotices(db: Database, logger?: Logger): Promise<ChangeNotices> {
  const listeners = new Map<string, ChangeListener[]>();
  const deliver = (channel: string, payload: string | undefined) => {
    for (const l of listeners.get(channel) ?? []) l.changed(payload ?? "");
  };
  const loseAll = () => {
    for (const list of listeners.values()) for (const l of list) l.lost();
  };

  if (db.engine === "pglite") {
    const { pglite } = db.knex.client as { pglite: PGliteThread };
    const subscriptions: Promise<(() => Promise<void>) | undefined>[] = [];
    let open = true;
    return {
      get live() {
        return open;
      },
      listen(channel, listener) {
        listeners.set(channel, [...(listeners.get(channel) ?? []), listener]);
        subscriptions.push(
          pglite.listen(channel, (payload) => deliver(channel, payload)).catch((err: unknown) => {
            open = false;
            logger?.error({ err, channel }, "could not listen for change notices; caches are bypassed");
            return undefined;
          }),
        );
      },
      async close() {
        open = false;
        loseAll();
        for (const stop of await Promise.all(subscriptions)) await stop?.().catch(() => undefined);
      },
    };
  }

  // As the outbox's readers give it, so the process listens on one connection.
  const connection = (db.knex.client.config as { connection: string | ClientConfig }).connection;
  const subscriptions: NotificationSubscription[] = [];
  let closed = false;
  return {
    get live() {
      return !closed && subscriptions.every((s) => s.active);
    },
    listen(channel, listener) {
      const known = listeners.has(channel);
      listeners.set(channel, [...(listeners.get(channel) ?? []), listener]);
      if (known || closed) return;
      subscriptions.push(
        listenForNotifications(
          connection,
          channel,
          {
            notification: (payload) => deliver(channel, payload),
            lost: () => {
              for (const l of listeners.get(channel) ?? []) l.lost();
            },
          },
          logger,
        ),
      );
    },
    async close() {
      closed = true;
      loseAll();
      await Promise.all(subscriptions.map((s) => s.close()));
    },
  };
}

// Values loaded from the database per tenant, kept until a change notice
// names the tenant. A load that overlaps a notice is answered but not kept,
// so a value read before a commit never outlives its notice. At most
// `maxSize` values are kept, the oldest forgotten first.
export class TenantCache<V> {
  // Oldest first.
  private readonly values = new Map<string, { tenantId: string; value: Promise<V> }>();
  // Bumped by every notice of the tenant (and by a loss, for all).
  private readonly generations = new Map<string, number>();
  private epoch = 0;
  // Bumped by every notice, whichever tenant it names.
  private changes = 0;

  constructor(
    private readonly notices: ChangeNotices,
    channel: string,
    private readonly maxSize = Infinity,
  ) {
    notices.listen(channel, {
      changed: (tenantId) => {
        this.changes += 1;
        this.generations.set(tenantId, (this.generations.get(tenantId) ?? 0) + 1);
        for (const [key, entry] of this.values) if (entry.tenantId === tenantId) this.values.delete(key);
      },
      lost: () => {
        this.epoch += 1;
        this.values.clear();
      },
    });
  }

  async get(tenantId: string, key: string, load: () => Promise<V>): Promise<V> {
    if (!this.notices.live) return load();
    const cached = this.values.get(key);
    if (cached) return cached.value;
    const generation = this.generations.get(tenantId) ?? 0;
    const epoch = this.epoch;
    const value = load();
    const entry = { tenantId, value };
    this.keep(key, entry);
    try {
      await value;
    } catch (err) {
      if (this.values.get(key) === entry) this.values.delete(key);
      throw err;
    }
    // Changed while loading (or notices lost): answered, not kept.
    if ((this.generations.get(tenantId) ?? 0) !== generation || this.epoch !== epoch || !this.notices.live) {
      if (this.values.get(key) === entry) this.values.delete(key);
    }
    return value;
  }

  // The value under `key` when only the value itself tells its tenant
  // (undefined: there is none, and that is not kept). Since the tenant is
  // unknown while loading, a notice of any tenant meanwhile means not kept.
  async getFound(key: string, load: () => Promise<V | undefined>, tenantOf: (value: V) => string): Promise<V | undefined> {
    if (!this.notices.live) return load();
    const cached = this.values.get(key);
    if (cached) return cached.value;
    const changes = this.changes;
    const epoch = this.epoch;
    const value = await load();
    if (value !== undefined && this.changes === changes && this.epoch === epoch && this.notices.live) {
      this.keep(key, { tenantId: tenantOf(value), value: Promise.resolve(value) });
    }
    return value;
  }

  private keep(key: string, entry: { tenantId: string; value: Promise<V> }) {
    this.values.set(key, entry);
    if (this.values.size > this.maxSize) this.values.delete(this.values.keys().next().value!);
  }
}
