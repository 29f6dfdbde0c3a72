import { randomBytes } from "node:crypto";
import pg from "pg";
import type { Database, Knex } from "./db/database";
import type { Logger } from "./logging";

// Which process holds something (an idempotency claim), and whether that
// process has provably stopped, so its work can be taken over at once
// instead of after a lease runs out.
//
// Embedded (PGlite): one process per data folder, so any instance that is
// not this one is gone. Postgres: each process holds a session-level
// advisory lock keyed by its instance id on a connection of its own; the
// lock is released when the process dies, so being able to take it proves
// the holder gone.

export interface ProcessLiveness {
  // This process; a positive int64 in decimal, the advisory lock's key.
  readonly instanceId: string;
  // True only when the process that recorded `instanceId` has provably stopped.
  isGone(instanceId: string): Promise<boolean>;
  close(): Promise<void>;
}

const reconnectDelayMs = 1000;

function newInstanceId(): string {
  return (randomBytes(8).readBigUInt64BE() >> 1n).toString();
}

export async function startProcessLiveness(db: Pick<Database, "knex" | "engine">, logger?: Logger): Promise<ProcessLiveness> {
  if (db.engine === "pglite") {
    const instanceId = newInstanceId();
    return { instanceId, isGone: async (other) => other !== instanceId, close: async () => undefined };
  }
  return AdvisoryLockLiveness.start(db.knex, logger);
}

class AdvisoryLockLiveness implements ProcessLiveness {
  private client: pg.Client | undefined;
  private closed = false;
  private reconnecting: NodeJS.Timeout | undefined;

  private constructor(
    private readonly knex: Knex,
    private readonly connection: string | pg.ClientConfig,
    readonly instanceId: string,
    private readonly logger?: Logger,
  ) {}

  static async start(knex: Knex, logger?: Logger): Promise<AdvisoryLockLiveness> {
    // The connection knex was opened with: the lock needs a session of its
    // own that no pool hands out or recycles.
    const connection = (knex.client as { config: Knex.Config }).config.connection as string | pg.ClientConfig;
    for (let round = 0; round < 5; round++) {
      const liveness = new AdvisoryLockLiveness(knex, connection, newInstanceId(), logger);
      if (await liveness.hold()) return liveness;
    }
    throw new Error("could not take a process advisory lock");
  }

  async isGone(instanceId: string): Promise<boolean> {
    if (instanceId === this.instanceId || !/^\d{1,19}$/.test(instanceId)) return false;
    // Taken (and released with the transaction) only when no session holds it.
    return this.knex.transaction(async (trx) => {
      const { rows } = (await trx.raw("select pg_try_advisory_xact_lock(?::bigint) as free", [instanceId])) as { rows: { free: boolean }[] };
      return rows[0]?.free === true;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnecting);
    await this.client?.end().catch(() => undefined);
  }

  // Connects and takes the lock; false when another session holds it.
  private async hold(): Promise<boolean> {
    const client = new pg.Client(typeof this.connection === "string" ? { connectionString: this.connection } : this.connection);
    client.on("error", () => this.reconnect(client));
    client.on("end", () => this.reconnect(client));
    try {
      await client.connect();
      const { rows } = await client.query<{ held: boolean }>("select pg_try_advisory_lock($1::bigint) as held", [this.instanceId]);
      if (rows[0]?.held === true) {
        this.client = client;
        return true;
      }
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    await client.end();
    return false;
  }

  // The lock went with its session (Postgres restarted, the connection
  // broke): take it again under the same instance id until closed.
  private reconnect(lost: pg.Client): void {
    if (this.closed || this.client !== lost) return;
    this.client = undefined;
    this.logger?.warn({ instanceId: this.instanceId }, "lost the process advisory lock; taking it again");
    this.retryHold(0);
  }

  private retryHold(delayMs: number): void {
    this.reconnecting = setTimeout(() => {
      if (this.closed) return;
      this.hold().then(
        (held) => held || this.retryHold(reconnectDelayMs),
        () => this.retryHold(reconnectDelayMs),
      );
    }, delayMs);
    this.reconnecting.unref();
  }
}
