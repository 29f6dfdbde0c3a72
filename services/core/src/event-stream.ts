import { jetstream, jetstreamManager, StorageType, type JetStreamClient } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";

// The JetStream stream that carries OneRouter's events in mesh mode. Event
// ids are the message ids, so a publish repeated within the duplicate window
// (a relay retrying after a lost ack) is stored once.

export const eventStreamName = "ONEROUTER_EVENTS";
export const eventSubjectPrefix = "onerouter.events";

const msToNanos = (ms: number) => ms * 1_000_000;

export interface EventStream {
  connection: NatsConnection;
  jetstream: JetStreamClient;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function eventSubject(environment: "test" | "live", type: string): string {
  return `${eventSubjectPrefix}.${environment}.${type}`;
}

export async function connectEventStream(
  url: string,
  options: { duplicateWindowMs?: number; maxAgeMs?: number; replicas?: number } = {},
): Promise<EventStream> {
  const connection = await connect({ servers: url, name: "onerouter", maxReconnectAttempts: -1 });
  try {
    const manager = await jetstreamManager(connection);
    const config = {
      subjects: [`${eventSubjectPrefix}.>`],
      storage: StorageType.File,
      duplicate_window: msToNanos(options.duplicateWindowMs ?? 10 * 60_000),
      max_age: msToNanos(options.maxAgeMs ?? 7 * 24 * 3_600_000),
      num_replicas: options.replicas ?? 1,
    };
    const existing = await manager.streams.info(eventStreamName).catch(() => undefined);
    if (existing) await manager.streams.update(eventStreamName, config);
    else await manager.streams.add({ name: eventStreamName, ...config });
  } catch (err) {
    await connection.close();
    throw new Error(`NATS at ${url} has no usable JetStream: ${(err as Error).message}`);
  }
  return {
    connection,
    jetstream: jetstream(connection),
    async ping() {
      if (connection.isClosed()) throw new Error("NATS connection closed");
      await connection.flush();
    },
    async close() {
      if (!connection.isClosed()) await connection.drain();
    },
  };
}
