import { MasterKeyring, OutboxRelay, connectEventStream, createLogger, loadConfig, openDatabase } from "@onerouter/core";
import { createWebhooks } from "../src/index";

// The webhooks room alone in a process of its own, configured like the
// product (DATABASE_URL, ONEROUTER_MASTER_KEY, NATS_URL, ONEROUTER_WEBHOOK_*),
// so tests can kill it mid-stream. With NATS_URL it also runs core's outbox
// relay, as the server does. Run with: node --import tsx dispatcher-process.ts
// Prints "ready" once it is taking events; SIGTERM drains and exits 0.

const config = loadConfig();
if (!config.databaseUrl || !config.masterKey) throw new Error("set DATABASE_URL and ONEROUTER_MASTER_KEY");
const logger = createLogger(config.logLevel, "webhooks-dispatcher");
const db = openDatabase({ databaseUrl: config.databaseUrl });
const eventStream = config.natsUrl ? await connectEventStream(config.natsUrl) : undefined;
const relay = eventStream && new OutboxRelay(db.knex, eventStream, logger);
const webhooks = createWebhooks({ knex: db.knex, masterKeys: new MasterKeyring(config.masterKey, config.previousMasterKeys), config, eventStream, logger });
relay?.start();
await webhooks.start();
process.stdout.write("ready\n");

process.once("SIGTERM", () => {
  void (async () => {
    await webhooks.stop();
    await relay?.stop();
    await eventStream?.close();
    await db.close();
    process.exit(0);
  })();
});
