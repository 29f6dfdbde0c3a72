import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebhookHttpClient, maxResponseBodyBytes, validateEndpointUrl, type WebhookPost } from "./http-client";
import { sleep, startReceiver, type Receiver } from "../../test/receivers";

const receivers: Receiver[] = [];
async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const started = await startReceiver(...args);
  receivers.push(started);
  return started;
}
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

const loopbackAllowed = new WebhookHttpClient({ allowedCidrs: ["127.0.0.0/8", "::1/128"], timeoutMs: 5000 });
const strict = new WebhookHttpClient({ allowedCidrs: [], timeoutMs: 5000 });
const post = (url: string, environment: WebhookPost["environment"] = "test"): WebhookPost => ({
  url,
  environment,
  headers: { "content-type": "application/json", "webhook-id": "evt_1" },
  body: '{"id":"evt_1"}',
});

describe("WebhookHttpClient", () => {
  it("POSTs the body and headers to an allow-listed loopback receiver", async () => {
    const hooks = await receiver(() => ({ status: 202, body: "thanks" }));
    const result = await loopbackAllowed.post(post(hooks.url));
    expect(result).toMatchObject({ statusCode: 202, responseBody: "thanks", error: "" });
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    expect(hooks.requests).toEqual([
      expect.objectContaining({ method: "POST", path: "/hooks", body: '{"id":"evt_1"}' }),
    ]);
    expect(hooks.requests[0]!.headers).toMatchObject({ "content-type": "application/json", "webhook-id": "evt_1", "content-length": "14" });
  });

  it.each([
    ["127.0.0.1", "destination 127.0.0.1 is a loopback address"],
    ["10.0.0.1", "destination 10.0.0.1 is a private address"],
    ["169.254.169.254", "destination 169.254.169.254 is a link-local address"],
    ["[::1]", "destination ::1 is a loopback address"],
    ["[::ffff:127.0.0.1]", "destination ::ffff:7f00:1 is a loopback address"],
    ["0.0.0.0", "destination 0.0.0.0 is an unspecified address"],
  ])("refuses %s without connecting", async (host, error) => {
    // A listener where the address would lead, when it is one this machine has.
    const listener = host.includes("127.0.0.1")
      ? await receiver()
      : host === "[::1]"
        ? await receiver(undefined, "::1")
        : undefined;
    const result = await strict.post(post(`http://${host}:${listener?.port ?? 8080}/hooks`));
    expect(result).toMatchObject({ statusCode: 0, responseBody: "", error });
    await sleep(50);
    expect(listener?.connections ?? 0).toBe(0);
  });

  it("refuses a host name that resolves to a loopback address, and delivers to it when allow-listed", async () => {
    const hooks = await receiver();
    const url = `http://localhost:${hooks.port}/hooks`;
    const refused = await strict.post(post(url));
    expect(refused.statusCode).toBe(0);
    expect(refused.error).toMatch(/^destination localhost resolves to (127\.0\.0\.1, a loopback address|::1, a loopback address)$/);
    await sleep(50);
    expect(hooks.connections).toBe(0);

    const delivered = await loopbackAllowed.post(post(url));
    expect(delivered).toMatchObject({ statusCode: 204, error: "" });
    // Connected to the vetted address, still speaking to the host by name.
    expect(hooks.requests[0]!.headers.host).toBe(`localhost:${hooks.port}`);
  });

  it("does not follow redirects", async () => {
    const elsewhere = await receiver();
    const hooks = await receiver(() => ({ status: 302, headers: { location: elsewhere.url }, body: "moved" }));
    const result = await loopbackAllowed.post(post(hooks.url));
    expect(result).toMatchObject({ statusCode: 302, responseBody: "moved", error: `redirects are not followed (Location: ${elsewhere.url})` });
    await sleep(50);
    expect(elsewhere.connections).toBe(0);
  });

  it("requires https for live endpoints", async () => {
    const hooks = await receiver();
    const result = await loopbackAllowed.post(post(hooks.url, "live"));
    expect(result).toMatchObject({ statusCode: 0, error: "endpoint URL must use https:// in the live environment" });
    expect(hooks.connections).toBe(0);
  });

  it("keeps 4 KiB of a long answer", async () => {
    const hooks = await receiver(() => ({ status: 500, body: "é".repeat(50_000) }));
    const result = await loopbackAllowed.post(post(hooks.url));
    expect(result.statusCode).toBe(500);
    expect(Buffer.byteLength(result.responseBody)).toBe(maxResponseBodyBytes);
  });

  it("gives up on an endpoint that does not answer in time", async () => {
    const hooks = await receiver(() => new Promise(() => {}));
    const impatient = new WebhookHttpClient({ allowedCidrs: ["127.0.0.0/8"], timeoutMs: 300 });
    const result = await impatient.post(post(hooks.url));
    expect(result).toMatchObject({ statusCode: 0, error: "no answer within 300 ms" });
    expect(result.latencyMs).toBeGreaterThanOrEqual(250);
  });

  it("reports a refused connection as an attempt failure", async () => {
    const hooks = await receiver();
    await hooks.close();
    const result = await loopbackAllowed.post(post(hooks.url));
    expect(result.statusCode).toBe(0);
    expect(result.error).toContain("ECONNREFUSED");
  });

  it("keeps one connection alive per origin across deliveries", async () => {
    const hooks = await receiver();
    const client = new WebhookHttpClient({ allowedCidrs: ["127.0.0.0/8"], timeoutMs: 5000 });
    try {
      for (let i = 0; i < 3; i++) expect((await client.post(post(`${hooks.url}/${i}`))).statusCode).toBe(204);
      expect(hooks.requests).toHaveLength(3);
      expect(hooks.connections).toBe(1);
    } finally {
      client.close();
    }
  });

  it("sends again on a fresh connection when the endpoint drops a kept one it was reused on", async () => {
    // Answers the first request of each connection and drops the connection at its second.
    const served = new WeakMap<object, number>();
    let dropped = 0;
    const server = http.createServer((req, res) => {
      const count = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, count);
      if (count === 1) return void res.writeHead(204).end();
      dropped += 1;
      req.socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const client = new WebhookHttpClient({ allowedCidrs: ["127.0.0.0/8"], timeoutMs: 5000 });
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
      const results = [];
      for (let i = 0; i < 3; i++) results.push(await client.post(post(url)));
      expect(results.map((r) => r.error || r.statusCode)).toEqual([204, 204, 204]);
      expect(dropped).toBeGreaterThan(0);
    } finally {
      client.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("validateEndpointUrl", () => {
  it.each([
    ["https://hooks.example.com/onerouter", "live", []],
    ["http://hooks.example.com/onerouter", "test", []],
    ["https://203.0.114.9/hooks", "live", []],
    ["http://127.0.0.1:9000/hooks", "test", ["127.0.0.0/8"]],
    ["http://localhost:9000/hooks", "test", ["127.0.0.0/8", "::1/128"]],
  ] as const)("accepts %s (%s)", (url, environment, allowList) => {
    expect(validateEndpointUrl(url, environment, allowList)).toBeUndefined();
  });

  it.each([
    ["hooks.example.com", "test", "is not a URL"],
    ["ftp://hooks.example.com/", "test", "must be an http:// or https:// URL"],
    ["http://hooks.example.com/", "live", "must use https:// in the live environment"],
    ["https://10.0.0.5/hooks", "live", "points to 10.0.0.5, a private address; webhooks go to public addresses only"],
    ["http://169.254.169.254/latest/meta-data", "test", "points to 169.254.169.254, a link-local address; webhooks go to public addresses only"],
    ["http://[::1]:8080/", "test", "points to ::1, a loopback address; webhooks go to public addresses only"],
    ["http://2130706433/", "test", "points to 127.0.0.1, a loopback address; webhooks go to public addresses only"],
    ["http://api.localhost/", "test", "points to 127.0.0.1, a loopback address; webhooks go to public addresses only"],
  ] as const)("refuses %s (%s): %s", (url, environment, reason) => {
    expect(validateEndpointUrl(url, environment, [])).toBe(reason);
  });
});
