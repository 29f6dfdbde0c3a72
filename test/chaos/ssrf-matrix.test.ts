import http from "node:http";
import type { AddressInfo } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { DeliveryStatus, WebhookService } from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import { apiClient, startTestOneRouter, type TestOneRouter } from "@onerouter/server/testing";
import { afterAll, describe, expect, it } from "vitest";
import { recordReliability } from "../reliability/record";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Webhook endpoints a tenant may point at this host or its private networks,
// under the default config (no allow-list): each is refused when created or
// when delivered to, and nothing ever connects to a listener on this machine.
describe("the SSRF target matrix for webhook deliveries", () => {
  let app: TestOneRouter | undefined;
  let listener: http.Server | undefined;
  afterAll(async () => {
    await app?.close();
    listener?.closeAllConnections();
    await new Promise((r) => listener?.close(r));
  });

  it("reaches no internal address, however it is spelled", async () => {
    const started = Date.now();
    let connections = 0;
    listener = http.createServer((_req, res) => res.writeHead(204).end());
    listener.on("connection", () => connections++);
    // Dual stack: IPv4 and IPv6 loopback both land here.
    await new Promise<void>((resolve) => listener!.listen({ port: 0, host: "::", ipv6Only: false }, resolve));
    const port = (listener.address() as AddressInfo).port;

    const loopbackSpellings = [
      "127.0.0.1", "127.1", "127.0.1", "127.000.000.001", "127.255.255.254", "0.0.0.0", "0", "2130706433", "0x7f000001",
      "0x7f.0.0.1", "0177.0.0.1", "017700000001", "localhost", "LOCALHOST", "localhost.", "[::1]", "[0:0:0:0:0:0:0:1]",
      "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::]", "[0:0:0:0:0:ffff:127.0.0.1]",
    ].map((host) => `http://${host}:${port}/hooks`);
    const internal = [
      "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.0.1", "192.168.0.1", "169.254.169.254", "100.64.0.1", "198.18.0.1",
      "224.0.0.1", "255.255.255.255", "[fd00::1]", "[fe80::1]", "[::ffff:10.0.0.1]", "[::ffff:169.254.169.254]",
    ].map((host) => `http://${host}/hooks`);
    const targets = [...loopbackSpellings, ...internal];

    app = await startTestOneRouter();
    const { secret } = await app.createKey();
    const webhooks = apiClient(app, WebhookService, secret);
    let refusedAtCreation = 0;
    const accepted: { url: string; id: string }[] = [];
    for (const url of targets) {
      try {
        const { endpoint } = await webhooks.createEndpoint({ url, eventTypes: ["test.*"] });
        accepted.push({ url, id: endpoint!.id });
      } catch (err) {
        expect(ConnectError.from(err).code, url).toBe(Code.InvalidArgument);
        refusedAtCreation++;
      }
    }
    for (const { id } of accepted) await webhooks.sendTestEvent({ endpointId: id });

    // Each accepted endpoint's delivery attempt is recorded as failed.
    const succeeded: string[] = [];
    const unattempted = new Set(accepted.map((a) => a.url));
    const deadline = Date.now() + 30_000;
    while (unattempted.size > 0 && Date.now() < deadline) {
      for (const { url, id } of accepted) {
        if (!unattempted.has(url)) continue;
        const { attempts } = await webhooks.listDeliveryAttempts({ endpointId: id });
        if (attempts.length === 0) continue;
        unattempted.delete(url);
        if (attempts.some((a) => a.status === DeliveryStatus.SUCCEEDED)) succeeded.push(url);
      }
      await sleep(200);
    }

    recordReliability({
      suite: "ssrf-matrix",
      source: "test/chaos/ssrf-matrix.test.ts",
      durationMs: Date.now() - started,
      rows: [
        {
          check: "webhook endpoints at loopback (21 spellings) and private, link-local, metadata and multicast addresses, default config",
          tried: `${targets.length} targets: ${refusedAtCreation} refused at creation, ${accepted.length} delivered to`,
          expected: "0 connections to this host, 0 successful deliveries",
          found: `${connections} connections, ${succeeded.length} successful deliveries, ${unattempted.size} never attempted`,
          ok: connections === 0 && succeeded.length === 0,
        },
      ],
    });

    expect(connections).toBe(0);
    expect(succeeded).toEqual([]);
  }, 90_000);
});
