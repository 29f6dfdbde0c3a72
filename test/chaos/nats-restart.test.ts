import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { PaymentService } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { WebhookService } from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import { postgresAvailable } from "@onerouter/core/testing";
import { outboxEvents } from "@onerouter/routing/testing";
import { apiClient, startTestOneRouter, type TestOneRouter } from "@onerouter/server/testing";
import { discardNats, waitFor } from "@onerouter/webhooks/testing";
import { afterAll, describe, expect, it } from "vitest";
import { findExecutable, startNats, type NatsServer } from "../infra";
import { recordReliability } from "../reliability/record";
import { startFlakyReceiver, type FlakyReceiver } from "./support/receiver";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The product in JetStream mode while payments keep coming: nats-server is
// stopped and started again, and the customer's endpoint goes down and comes
// back. Every event reaches the endpoint at least once, correctly signed.
describe.skipIf(!postgresAvailable() || !findExecutable("nats-server"))("nats-server restarted and a receiver down then up", () => {
  let nats: NatsServer | undefined;
  let app: TestOneRouter | undefined;
  let receiver: FlakyReceiver | undefined;
  afterAll(async () => {
    await app?.close();
    await receiver?.close();
    await discardNats(nats);
  });

  it("delivers every event, signed, through both outages", async () => {
    const started = Date.now();
    nats = (await startNats())!;
    app = await startTestOneRouter({
      engine: "postgres",
      env: {
        NATS_URL: nats.url,
        ONEROUTER_WEBHOOK_ALLOWED_CIDRS: "127.0.0.0/8",
        // Retries within seconds, so the test sees the endpoint's return.
        ONEROUTER_WEBHOOK_RETRY_SCHEDULE: "0,1s,1s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s",
        ONEROUTER_RATE_LIMIT_RPS: "10000",
      },
    });
    const { secret } = await app.createKey(Environment.TEST);
    let endpointSecret = "";
    receiver = await startFlakyReceiver(() => endpointSecret);
    const created = await apiClient(app, WebhookService, secret).createEndpoint({ url: receiver.url, eventTypes: ["payment.*"] });
    endpointSecret = created.secret;
    const payments = apiClient(app, PaymentService, secret);

    // Payments keep coming through both outages.
    let paying = true;
    let paid = 0;
    const payers = Array.from({ length: 4 }, async () => {
      while (paying) {
        await payments.createPayment({ amount: 700n, currency: "USD" });
        paid++;
      }
    });
    // Each step waits for time to pass and for payments to be made meanwhile.
    const step = async (ms: number, payments: number) => {
      const target = paid + payments;
      await sleep(ms);
      await waitFor(`${target} payments`, async () => paid >= target, 60_000);
    };
    const rig = nats;
    await step(0, 10);
    await rig.stop();
    await step(2000, 10);
    nats = (await startNats({ port: rig.port, storeDir: rig.storeDir }))!;
    await step(0, 10);
    await receiver.down();
    await step(3000, 10);
    await receiver.up();
    await step(0, 10);
    paying = false;
    await Promise.all(payers);

    const tenantId = app.defaultTenantId;
    const expected = (await outboxEvents(app)).filter((e) => e.tenantId === tenantId && e.type.startsWith("payment.")).map((e) => e.id);
    const missing = () => expected.filter((id) => !receiver!.verified.has(id));
    await waitFor("every event at the endpoint", async () => missing().length === 0, 60_000).catch(() => undefined);
    const repeats = [...receiver.verified.values()].reduce((n, count) => n + count - 1, 0);

    recordReliability({
      suite: "chaos-nats-restart",
      source: "test/chaos/nats-restart.test.ts",
      durationMs: Date.now() - started,
      rows: [
        {
          check: "nats-server stopped (2 s) and the endpoint down (3 s) while payments flow, JetStream mode",
          tried: `${paid} payments, ${expected.length} events`,
          expected: "every event delivered at least once, every signature valid (standardwebhooks)",
          found: `${missing().length} not delivered, ${receiver.badSignatures} bad signatures, ${repeats} repeated deliveries`,
          ok: missing().length === 0 && receiver.badSignatures === 0,
        },
      ],
    });

    expect(paid).toBeGreaterThanOrEqual(50);
    expect(missing()).toEqual([]);
    expect(receiver.badSignatures).toBe(0);
  }, 120_000);
});
