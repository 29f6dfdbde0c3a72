import { jetstreamManager } from "@nats-io/jetstream";
import { connectEventStream, createLogger, eventStreamName, OutboxRelay, openDatabase, type Database, type EventStream } from "@onerouter/core";
import { createTestDatabaseUrl, postgresAvailable } from "@onerouter/core/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findExecutable, startNats, type NatsServer } from "../../../../test/infra";
import { JetStreamFeed } from "./jetstream-feed";
import { addEndpoint, addTenant, appendEvents, countWhere, discardNats, migrated, waitFor } from "../../test/fixtures";

const logger = createLogger("silent");

async function streamMessageCount(stream: EventStream): Promise<number> {
  const manager = await jetstreamManager(stream.connection);
  return (await manager.streams.info(eventStreamName)).state.messages;
}

// Each test has a NATS server of its own, so the stream holds its events only.
describe.skipIf(!postgresAvailable() || !findExecutable("nats-server"))("outbox relay and JetStream feed", () => {
  let db: Database;
  let nats: NatsServer;
  const cleanups: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    db = await migrated(openDatabase({ databaseUrl: await createTestDatabaseUrl() }));
    nats = (await startNats())!;
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await discardNats(nats);
    await db.close();
  });

  async function connect(): Promise<EventStream> {
    const stream = await connectEventStream(nats.url);
    cleanups.push(() => stream.close());
    return stream;
  }

  it("loses and duplicates nothing when NATS stops and restarts mid-stream", async () => {
    const knex = db.knex;
    const tenant = await addTenant(knex);
    const endpoint = await addEndpoint(knex, { tenantId: tenant });
    const stream = await connect();
    const relay = new OutboxRelay(knex, stream, logger, { pollIntervalMs: 50, batchSize: 20, publishTimeoutMs: 2000 });
    const feed = new JetStreamFeed(knex, stream, logger, { ackWaitMs: 5000 });
    relay.start();
    await feed.start({ wake() {} });
    cleanups.push(async () => {
      await relay.stop();
      await feed.stop();
    });

    // Events keep arriving throughout, as state changes would.
    const total = 600;
    const written: string[] = [];
    const writer = (async () => {
      while (written.length < total) {
        written.push(...(await appendEvents(knex, { tenantId: tenant, count: 10 })));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    await waitFor("some events published", async () =>
      (await countWhere(knex, "outbox_events", (q) => q.whereNotNull("published_at"))) >= 100,
    );
    await nats.stop();
    const publishedWhileUp = await countWhere(knex, "outbox_events", (q) => q.whereNotNull("published_at"));
    // While NATS is down the relay keeps the rest unpublished.
    await waitFor("more events written while NATS is down", async () => written.length >= publishedWhileUp + 100);
    expect(await countWhere(knex, "outbox_events", (q) => q.whereNull("published_at"))).toBeGreaterThan(0);
    nats = (await startNats({ port: nats.port, storeDir: nats.storeDir }))!;

    await writer;
    await waitFor(
      `all ${total} events fanned out`,
      async () => (await countWhere(knex, "webhook_deliveries", (q) => q.where({ endpoint_id: endpoint }))) === total,
      60_000,
    );
    expect(await countWhere(knex, "outbox_events", (q) => q.whereNull("published_at"))).toBe(0);
    expect(await countWhere(knex, "webhook_events")).toBe(await countWhere(knex, "outbox_events"));
    expect(await streamMessageCount(stream)).toBe(total);
  }, 120_000);

  it("publishes each of 500 events once with two relays running at once", async () => {
    const knex = db.knex;
    const tenant = await addTenant(knex);
    await appendEvents(knex, { tenantId: tenant, count: 500 });
    const relays = [
      new OutboxRelay(knex, await connect(), logger, { pollIntervalMs: 20, batchSize: 25 }),
      new OutboxRelay(knex, await connect(), logger, { pollIntervalMs: 20, batchSize: 25 }),
    ];
    for (const relay of relays) relay.start();
    cleanups.push(async () => {
      await Promise.all(relays.map((r) => r.stop()));
    });
    await waitFor("every event published", async () =>
      (await countWhere(knex, "outbox_events", (q) => q.whereNull("published_at"))) === 0,
    );
    expect(await streamMessageCount(await connect())).toBe(500);
  });

  it("lets another relay take over rows whose lease ran out, and JetStream stores the repeat once", async () => {
    const knex = db.knex;
    const tenant = await addTenant(knex);
    const events = await appendEvents(knex, { tenantId: tenant, count: 50 });
    const stream = await connect();
    // A relay that published but died before marking the rows: they are
    // published, still unmarked, and leased.
    const first = new OutboxRelay(knex, stream, logger, { leaseMs: 500 });
    expect(await first.relayBatch()).toBe(false);
    await knex("outbox_events")
      .whereIn("id", events)
      .update({ published_at: null, relay_claimed_until: knex.raw("now() + interval '500 milliseconds'") });

    const second = new OutboxRelay(knex, stream, logger);
    expect(await second.relayBatch()).toBe(false);
    expect(await countWhere(knex, "outbox_events", (q) => q.whereNotNull("published_at"))).toBe(0);
    await waitFor("the lease to run out and the rows to be published again", async () => {
      await second.relayBatch();
      return (await countWhere(knex, "outbox_events", (q) => q.whereNull("published_at"))) === 0;
    });
    expect(await streamMessageCount(stream)).toBe(50);
  });
});
