import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { postWebhook } from "./emulator-harness";

// A receiver of webhooks that records each one and the connection it came on,
// and can destroy a kept connection as the next request arrives on it, unread
// (its idle timeout crossing the sender's reuse).
async function startReceiver(status = 204) {
  const received: { body: string; signature: string | undefined; connection: number }[] = [];
  const connections = new WeakMap<Socket, number>();
  const carried = new WeakMap<Socket, number>();
  let opened = 0;
  let closeNextReuse = false;
  const server = http.createServer((req, res) => {
    const earlier = carried.get(req.socket) ?? 0;
    carried.set(req.socket, earlier + 1);
    if (earlier > 0 && closeNextReuse) {
      closeNextReuse = false;
      req.socket.destroy();
      return;
    }
    if (req.url === "/cut") {
      // Promises a longer body than it sends, then closes.
      res.writeHead(200, { "content-length": "100" });
      res.write("partial", () => req.socket.destroy());
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ body: Buffer.concat(chunks).toString(), signature: req.headers["x-signature"] as string | undefined, connection: connections.get(req.socket)! });
      res.writeHead(status).end();
    });
  });
  server.on("connection", (socket: Socket) => connections.set(socket, ++opened));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received,
    closeNextReuse: () => (closeNextReuse = true),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("postWebhook", () => {
  const receivers: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });

  it("delivers each webhook with its headers and answers the receiver's status, on one kept connection", async () => {
    const receiver = await startReceiver(202);
    receivers.push(receiver);
    const statuses = [];
    for (const n of [1, 2, 3]) statuses.push(await postWebhook(receiver.url, JSON.stringify({ n, text: "ü ☃" }), { "x-signature": `v1=${n}` }));
    expect(statuses).toEqual([202, 202, 202]);
    expect(receiver.received.map((r) => [JSON.parse(r.body), r.signature])).toEqual([
      [{ n: 1, text: "ü ☃" }, "v1=1"],
      [{ n: 2, text: "ü ☃" }, "v1=2"],
      [{ n: 3, text: "ü ☃" }, "v1=3"],
    ]);
    expect(new Set(receiver.received.map((r) => r.connection)).size).toBe(1);
  });

  it("sends a webhook once more on a fresh connection when the receiver closed the kept one before reading it", async () => {
    const receiver = await startReceiver();
    receivers.push(receiver);
    expect(await postWebhook(receiver.url, "first", {})).toBe(204);
    receiver.closeNextReuse();
    expect(await postWebhook(receiver.url, "second", {})).toBe(204);
    expect(receiver.received.map((r) => [r.body, r.connection])).toEqual([
      ["first", 1],
      ["second", 2],
    ]);
  });

  it("fails when the receiver's answer is cut off", async () => {
    const receiver = await startReceiver();
    receivers.push(receiver);
    await expect(postWebhook(receiver.url.replace("/hooks", "/cut"), "{}", {})).rejects.toMatchObject({ code: "ECONNRESET" });
  });

  it("fails when the receiver cannot be reached", async () => {
    const receiver = await startReceiver();
    await receiver.close();
    await expect(postWebhook(receiver.url, "{}", {})).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });
});
