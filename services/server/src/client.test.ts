import { createConnection, createServer, type Socket } from "node:net";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Code, createOneRouterClient, isOneRouterError, type OneRouterClient } from "@onerouter/client";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { EventType, type Event } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { PaymentStatus } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { createTenant } from "@onerouter/admin";
import { appendEvent } from "@onerouter/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startTestOneRouter, type TestOneRouter } from "../test/index";

// The TypeScript client against the whole product: List methods iterated
// across pages, a CreatePayment whose answer is lost to a reset connection
// retried into one charge, errors with their reason, and the event stream
// resuming after its connection is cut. Connections go through a TCP proxy
// that can reset them, as a flaky network would.

let app: TestOneRouter;
let proxy: ResettingProxy;

beforeAll(async () => {
  app = await startTestOneRouter();
  proxy = await resettingProxy(app.server.port);
}, 120_000);
afterAll(async () => {
  await proxy?.close();
  await app?.close();
});

async function tenantClient(name: string, fetch?: typeof globalThis.fetch): Promise<{ tenantId: string; onerouter: OneRouterClient }> {
  const tenant = await createTenant(app.db.knex, { name, planId: "enterprise" });
  await app.ensureSandboxDefaults!(tenant.id);
  const { secret } = await app.createKey(Environment.TEST, tenant.id);
  return {
    tenantId: tenant.id,
    onerouter: createOneRouterClient({ baseUrl: proxy.url, apiKey: secret, fetch, retry: { initialBackoffMs: 20 } }),
  };
}

describe("the client against OneRouter", () => {
  it("iterates over every page of a List method, asking for each page once", async () => {
    const pagesAsked: string[] = [];
    const countingFetch: typeof globalThis.fetch = (input, init) => {
      if (String(input).endsWith("/ListPayments")) pagesAsked.push(String(input));
      return fetch(input, init);
    };
    const { onerouter } = await tenantClient("Paging", countingFetch);
    const created = [];
    for (let i = 0; i < 7; i++) {
      const { payment } = await onerouter.payments.createPayment({ amount: BigInt(100 + i), currency: "USD" });
      created.push(payment!);
    }

    const listed = [];
    for await (const payment of onerouter.payments.list({ pageSize: 3 })) listed.push(payment.id);
    expect(pagesAsked).toHaveLength(3);
    expect(listed).toHaveLength(7);
    expect(new Set(listed)).toEqual(new Set(created.map((p) => p.id)));

    // Awaited, it is the first page as before.
    const firstPage = await onerouter.payments.listPayments({ pageSize: 3 });
    expect(firstPage.payments).toHaveLength(3);
    expect(firstPage.nextPageToken).not.toBe("");
  });

  it("retries a CreatePayment whose answer a connection reset lost, and the payment is made once", async () => {
    const { tenantId, onerouter } = await tenantClient("Reset");
    proxy.resetNextAnswer();
    const { payment } = await onerouter.payments.createPayment({ amount: 4200n, currency: "USD", description: "reset once" });
    // The first answer never arrived, so this one is the retry's: a replay of the stored outcome.
    expect(proxy.resets).toBe(1);
    const rows = await app.db.knex("payments").where({ tenant_id: tenantId });
    expect(rows.map((r: { id: string }) => r.id)).toEqual([payment!.id]);
    // One provider call: the retry was answered from the stored outcome, not charged again.
    const stored = await onerouter.payments.getPayment({ id: payment!.id });
    expect(stored.payment!.status).toBe(PaymentStatus.SUCCEEDED);
    expect(stored.payment!.attempts).toHaveLength(1);
  });

  it("gives an error's reason, metadata and code through isOneRouterError", async () => {
    const { onerouter } = await tenantClient("Errors");
    const headers = { "Idempotency-Key": "order-1" };
    await onerouter.payments.createPayment({ amount: 100n, currency: "USD" }, { headers });
    const err = await onerouter.payments.createPayment({ amount: 200n, currency: "USD" }, { headers }).catch((e: unknown) => e);
    expect(isOneRouterError(err, "PROVIDER_DECLINED")).toBe(false);
    if (!isOneRouterError(err, "IDEMPOTENCY_KEY_REUSED")) throw err;
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.domain).toBe("onerouter.dev");
    expect(err.errorMetadata).toMatchObject({ idempotency_key: "order-1" });
  });

  it("streams events as an async iterator that resumes after its connection is cut, missing nothing", async () => {
    const { tenantId, onerouter } = await tenantClient("Events");
    const append = () =>
      appendEvent(app.db.knex, {
        type: EventType.PAYMENT_SUCCEEDED,
        tenantId,
        environment: Environment.TEST,
        data: { case: "test", value: { message: "streamed" } },
      });
    const stop = new AbortController();
    const disconnects: string[] = [];
    let opened = 0;
    const events = onerouter.events({
      signal: stop.signal,
      reconnect: { initialBackoffMs: 20 },
      onOpen: () => opened++,
      onDisconnect: ({ error }) => disconnects.push(error.message),
    });
    const received: Event[] = [];
    const reading = (async () => {
      for await (const event of events) received.push(event);
    })();
    await vi.waitFor(() => expect(opened).toBe(1), { timeout: 10_000, interval: 10 });
    const before = await append();
    await vi.waitFor(() => expect(received).toHaveLength(1), { timeout: 10_000, interval: 10 });

    proxy.resetAll();
    const meanwhile = [await append(), await append(), await append()];
    await vi.waitFor(() => expect(received).toHaveLength(4), { timeout: 10_000, interval: 10 });
    stop.abort();
    await reading;

    expect(disconnects.length).toBeGreaterThanOrEqual(1);
    expect(opened).toBeGreaterThanOrEqual(2);
    expect(received.map((e) => e.id)).toEqual([before, ...meanwhile].map((e) => e.id));
  });

  it("ends the event stream when its signal aborts after a garbage collection", async () => {
    // Node's fetch can lose track of the signal in a collection (nodejs/undici#3644).
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const { onerouter } = await tenantClient("Events stopped");
    const stop = new AbortController();
    let opened = 0;
    const reading = (async () => {
      for await (const event of onerouter.events({ signal: stop.signal, onOpen: () => opened++ })) void event;
    })();
    await vi.waitFor(() => expect(opened).toBe(1), { timeout: 10_000, interval: 10 });
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const openBefore = proxy.openConnections();
    stop.abort();
    await expect(Promise.race([reading.then(() => "ended"), new Promise((resolve) => setTimeout(resolve, 5_000, "still streaming"))])).resolves.toBe("ended");
    // The stream's connection is closed, not left open to the server.
    await vi.waitFor(() => expect(proxy.openConnections()).toBeLessThan(openBefore), { timeout: 5_000, interval: 10 });
  });
});

interface ResettingProxy {
  url: string;
  resets: number;
  // The next answer to start coming back is cut: the client's connection is reset.
  resetNextAnswer(): void;
  // Resets every open connection.
  resetAll(): void;
  openConnections(): number;
  close(): Promise<void>;
}

async function resettingProxy(targetPort: number): Promise<ResettingProxy> {
  const open = new Set<Socket>();
  let resetNext = false;
  const state = { resets: 0 };
  const server = createServer((client) => {
    open.add(client);
    const upstream = createConnection(targetPort);
    client.on("close", () => {
      open.delete(client);
      upstream.destroy();
    });
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    upstream.on("close", () => client.destroy());
    client.pipe(upstream);
    upstream.on("data", (chunk: Buffer) => {
      if (resetNext) {
        resetNext = false;
        state.resets++;
        client.resetAndDestroy();
        return;
      }
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get resets() {
      return state.resets;
    },
    resetNextAnswer: () => (resetNext = true),
    resetAll() {
      for (const socket of open) socket.resetAndDestroy();
    },
    openConnections: () => open.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
