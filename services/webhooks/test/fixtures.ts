import { rmSync } from "node:fs";
import { adminMigrations } from "@onerouter/admin";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { EventType } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import {
  appendEvent,
  MasterKeyring,
  newId,
  outboxMigrations,
  type Database,
  type Knex,
} from "@onerouter/core";
import type { NatsServer } from "../../../test/infra";
import { webhookMigrations } from "../src/migrations";
import { newEndpointSecret, sealSecret } from "../src/secrets";
import { feedEventFrom, type FeedEvent } from "../src/transport/fanout";

// Tenants, endpoints and events for the transport tests.

export const transportMigrations = [...adminMigrations, ...outboxMigrations, ...webhookMigrations];

export const testMasterKey = Buffer.alloc(32, 9);

export async function migrated(db: Database): Promise<Database> {
  await db.migrate(transportMigrations);
  return db;
}

export async function addTenant(knex: Knex): Promise<string> {
  const id = newId("ten");
  await knex("tenants").insert({ id, name: id });
  return id;
}

export async function addEndpoint(
  knex: Knex,
  input: { tenantId: string; environment?: "test" | "live"; url?: string; eventTypes?: string[]; status?: string },
): Promise<string> {
  const id = newId("ep");
  await knex("webhook_endpoints").insert({
    id,
    tenant_id: input.tenantId,
    environment: input.environment ?? "test",
    url: input.url ?? "https://hooks.example.com/onerouter",
    event_types: JSON.stringify(input.eventTypes ?? []),
    status: input.status ?? "enabled",
    secrets: JSON.stringify([sealSecret(new MasterKeyring(testMasterKey), id, newEndpointSecret())]),
  });
  return id;
}

// Appends `count` events in transactions of up to 100, as state changes would.
export async function appendEvents(
  knex: Knex,
  input: { tenantId: string; environment?: "test" | "live"; type?: EventType; count: number },
): Promise<string[]> {
  const ids: string[] = [];
  while (ids.length < input.count) {
    const n = Math.min(100, input.count - ids.length);
    await knex.transaction(async (trx) => {
      for (let i = 0; i < n; i++) {
        const event = await appendEvent(trx, {
          type: input.type ?? EventType.PAYMENT_SUCCEEDED,
          tenantId: input.tenantId,
          environment: input.environment === "live" ? Environment.LIVE : Environment.TEST,
          data: { case: "test", value: { message: "transport test" } },
        });
        ids.push(event.id);
      }
    });
  }
  return ids;
}

// The events as a feed hands them to fan-out, read from the outbox.
export async function feedEvents(knex: Knex, ids: string[]): Promise<FeedEvent[]> {
  const payloads = new Map(
    (await knex("outbox_events").whereIn("id", ids).select<{ id: string; payload: Uint8Array }[]>("id", "payload")).map((r) => [
      r.id,
      new Uint8Array(r.payload),
    ]),
  );
  return ids.map((id) => feedEventFrom(payloads.get(id)!)!);
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function countWhere(knex: Knex, table: string, build: (q: Knex.QueryBuilder) => void = () => {}): Promise<number> {
  const query = knex(table);
  build(query);
  const row = (await query.count<{ count: string | number }[]>({ count: "*" }))[0];
  return Number(row?.count ?? 0);
}

// Stops a test's own NATS server and deletes its store.
export async function discardNats(nats: NatsServer | undefined): Promise<void> {
  if (!nats) return;
  await nats.stop();
  rmSync(nats.storeDir, { recursive: true, force: true });
}
