import http from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

// A customer's webhook endpoint on loopback that can be taken down (its port
// refuses connections) and brought back on the same port. It checks every
// delivery's signature with the `standardwebhooks` package, as a customer would.

export interface FlakyReceiver {
  url: string;
  // Event ids (webhook-id) of deliveries whose signature verified.
  verified: Map<string, number>;
  badSignatures: number;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startFlakyReceiver(secret: () => string): Promise<FlakyReceiver> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      try {
        new Webhook(secret()).verify(Buffer.concat(chunks).toString("utf8"), headers);
        const id = headers["webhook-id"]!;
        receiver.verified.set(id, (receiver.verified.get(id) ?? 0) + 1);
        res.writeHead(204).end();
      } catch {
        receiver.badSignatures++;
        res.writeHead(400).end();
      }
    });
  });
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  await listen(0);
  const { port } = server.address() as AddressInfo;
  const stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  const receiver: FlakyReceiver = {
    url: `http://127.0.0.1:${port}/hooks`,
    verified: new Map(),
    badSignatures: 0,
    down: stop,
    up: () => listen(port),
    close: async () => {
      if (server.listening) await stop();
    },
  };
  return receiver;
}
