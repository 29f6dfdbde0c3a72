import http from "node:http";
import type { AddressInfo } from "node:net";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { EventType } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { appendEvent, newId, type Knex, type MasterKeyring } from "@onerouter/core";
import { newEndpointSecret, sealSecret } from "../src/secrets";
import { recordFannedOutEvent } from "../src/transport/fanout";

// What the delivery tests deliver to and deliver from: webhook receivers on
// loopback that record what reaches them, and the rows a delivery needs.

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface Reply {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

export interface Receiver {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  // TCP connections accepted, whether or not a request followed.
  connections: number;
  inFlight: number;
  maxInFlight: number;
  close(): Promise<void>;
}

export type Responder = (request: ReceivedRequest, receiver: Receiver) => Reply | Promise<Reply>;

export async function startReceiver(respond: Responder = () => ({ status: 204 }), host = "127.0.0.1"): Promise<Receiver> {
  const server = http.createServer((req, res) => {
    receiver.inFlight++;
    receiver.maxInFlight = Math.max(receiver.maxInFlight, receiver.inFlight);
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const request: ReceivedRequest = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        body: Buffer.concat(chunks).toString("utf8"),
      };
      receiver.requests.push(request);
      const reply = await respond(request, receiver);
      receiver.inFlight--;
      res.writeHead(reply.status, reply.headers).end(reply.body ?? "");
    });
  });
  server.on("connection", () => receiver.connections++);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  const receiver: Receiver = {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}/hooks`,
    port,
    requests: [],
    connections: 0,
    inFlight: 0,
    maxInFlight: 0,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return receiver;
}

export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function insertTenant(knex: Knex): Promise<string> {
  const id = newId("ten");
  await knex("tenants").insert({ id, name: "Webhook receiver" });
  return id;
}

// An endpoint with one current secret and, when given, previous ones still
// in (or past) their overlap window.
export async function insertEndpoint(
  knex: Knex,
  masterKeys: MasterKeyring,
  input: { tenantId: string; url: string; environment?: "test" | "live"; previousSecrets?: { secret: string; expiresAt: Date }[] },
): Promise<{ id: string; secret: string }> {
  const id = newId("we");
  const secret = newEndpointSecret();
  const secrets = [
    sealSecret(masterKeys, id, secret),
    ...(input.previousSecrets ?? []).map((p) => sealSecret(masterKeys, id, p.secret, p.expiresAt)),
  ];
  await knex("webhook_endpoints").insert({
    id,
    tenant_id: input.tenantId,
    environment: input.environment ?? "test",
    url: input.url,
    secrets: JSON.stringify(secrets),
  });
  return { id, secret };
}

// An outbox event and the delivery owed to the endpoint, due now.
export async function insertDelivery(
  knex: Knex,
  input: { tenantId: string; endpointId: string; environment?: "test" | "live"; nextAttemptAt?: Date },
): Promise<{ deliveryId: string; eventId: string }> {
  const environment = input.environment ?? "test";
  const event = await appendEvent(knex, {
    type: EventType.WEBHOOK_TEST,
    tenantId: input.tenantId,
    environment: environment === "live" ? Environment.LIVE : Environment.TEST,
    data: { case: "test", value: { message: "hello from OneRouter" } },
  });
  await recordFannedOutEvent(knex, event);
  const deliveryId = newId("dlv");
  await knex("webhook_deliveries").insert({
    id: deliveryId,
    tenant_id: input.tenantId,
    environment,
    event_id: event.id,
    endpoint_id: input.endpointId,
    next_attempt_at: input.nextAttemptAt ?? new Date(),
  });
  return { deliveryId, eventId: event.id };
}
