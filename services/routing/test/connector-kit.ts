import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { expect } from "vitest";
import { ConnectorError, type ConnectorErrorKind, type WebhookInput, type WebhookNonces } from "../src/connector-kit";

// Test-only: assertions that a connector call or check failed the way
// connectors must fail, with a ConnectorError the engine can classify.

function asConnectorError(err: unknown, kind: ConnectorErrorKind | undefined): ConnectorError {
  expect(err, kind ? `expected a ConnectorError of kind ${kind}` : "expected a ConnectorError").toBeInstanceOf(ConnectorError);
  if (kind !== undefined) expect((err as ConnectorError).kind).toBe(kind);
  return err as ConnectorError;
}

// The ConnectorError `promise` rejects with, of `kind` when given.
export async function expectConnectorError(promise: Promise<unknown>, kind?: ConnectorErrorKind): Promise<ConnectorError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return asConnectorError(err, kind);
}

// The ConnectorError `call` fails with while a gateway in front of the
// provider answers `status` once with a body of its own (an emulator's
// "proxy_error" failure mode).
export async function expectConnectorErrorBehindGateway(
  provider: { setFailure(settings: { mode: "proxy_error" | "none"; status?: number; count?: number }): Promise<void> },
  status: number,
  call: () => Promise<unknown>,
  kind?: ConnectorErrorKind,
): Promise<ConnectorError> {
  await provider.setFailure({ mode: "proxy_error", status, count: 1 });
  try {
    return await expectConnectorError(call(), kind);
  } finally {
    await provider.setFailure({ mode: "none" });
  }
}

// The ConnectorError a webhook check throws when it rejects a callback:
// always of kind invalid_signature, its details.reason saying why.
export function webhookRejection(run: () => unknown): ConnectorError {
  try {
    run();
  } catch (err) {
    return asConnectorError(err, "invalid_signature");
  }
  throw new Error("expected the webhook to be rejected");
}

// A stand-in for the product's inbound callback endpoint on loopback: it
// answers 200 to every request and keeps each as the WebhookInput the
// product would hand the connector, at the URL the provider called.
export interface WebhookReceiver {
  url: string;
  received: WebhookInput[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(path: string): Promise<WebhookReceiver> {
  const received: WebhookInput[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = String(value);
      received.push({ rawBody: Buffer.concat(chunks), headers, url: `http://${req.headers.host}${req.url ?? "/"}` });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// A TCP proxy on loopback to the server on `port`, counting the connections
// it accepts: for checking that a client opens a fresh one for every call.
export interface ConnectionCountingProxy {
  url: string;
  connections(): number;
  close(): Promise<void>;
}

export async function startConnectionCountingProxy(port: number): Promise<ConnectionCountingProxy> {
  let connections = 0;
  const proxy = net.createServer((client) => {
    connections += 1;
    const upstream = net.connect(port, "127.0.0.1");
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => proxy.close(() => resolve())),
  };
}

// Nonces remembered in memory, for connector tests that verify webhooks
// without the inbound route and its table.
export function memoryWebhookNonces(): WebhookNonces {
  const seen = new Map<string, string>();
  return {
    async claim(nonce, body) {
      const fingerprint = body.toString("base64");
      const first = seen.get(nonce) ?? fingerprint;
      seen.set(nonce, first);
      return first === fingerprint;
    },
  };
}
