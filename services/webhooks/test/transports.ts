import { connectEventStream, OutboxRelay, type Knex, type Logger } from "@onerouter/core";
import type { DeliveryWaker } from "../src/transport/fanout";
import { JetStreamFeed } from "../src/transport/jetstream-feed";
import { OutboxFeed } from "../src/transport/outbox-feed";

// The two event transports, started the way the server starts them but
// with short intervals, for tests that run one suite against both.
export const transports = ["embedded", "jetstream"] as const;
export type Transport = (typeof transports)[number];

export interface RunningTransport {
  stop(): Promise<void>;
}

export async function startTransport(
  transport: Transport,
  input: { knex: Knex; logger: Logger; worker: DeliveryWaker; natsUrl?: string },
): Promise<RunningTransport> {
  if (transport === "embedded") {
    const feed = new OutboxFeed(input.knex, input.logger, { pollIntervalMs: 50 });
    await feed.start(input.worker);
    return { stop: () => feed.stop() };
  }
  if (!input.natsUrl) throw new Error("the jetstream transport needs a NATS URL");
  const stream = await connectEventStream(input.natsUrl);
  const relay = new OutboxRelay(input.knex, stream, input.logger, { pollIntervalMs: 50 });
  const feed = new JetStreamFeed(input.knex, stream, input.logger, { ackWaitMs: 5000 });
  relay.start();
  await feed.start(input.worker);
  return {
    async stop() {
      await relay.stop();
      await feed.stop();
      await stream.close();
    },
  };
}
