import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fromJsonString, toJsonString, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, type Client } from "@connectrpc/connect";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, expect, it } from "vitest";
import { adminMigrations, createApiKey, createTenant } from "@onerouter/admin";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { EventSchema, EventType } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import {
  DeliveryStatus,
  EndpointStatus,
  GetEndpointResponseSchema,
  ListEndpointsResponseSchema,
  UpdateEndpointResponseSchema,
  WebhookService,
} from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import { appendEvent, createLogger, eventTypeNames, loadConfig, MasterKeyring, newDataKey, newId, outboxMigrations, type Database } from "@onerouter/core";
import { createTestDatabase, describeEachEngine } from "@onerouter/core/testing";
import { inMemoryApi } from "@onerouter/gatekeeper/testing";
import { gatekeeperMigrations } from "@onerouter/gatekeeper";
import { failure } from "@onerouter/gatekeeper/testing";
import { createWebhooks, type Webhooks } from "./index";
import { webhookMigrations } from "./migrations";
import { webhookRoutes } from "./routes";
import { activeSecrets, type StoredSecret } from "./secrets";
import { recordFannedOutEvent } from "./transport/fanout";

// The webhooks room on a real database, its service called in memory with API
// keys through the gatekeeper, delivering to a receiver on loopback that
// accepts everything. The room's delivery worker runs meanwhile, so a
// delivery these tests requeue may already have been made again by the time
// they look: pending or succeeded are both "requeued".

type WebhookClient = Client<typeof WebhookService>;

const json = <T>(value: T | string): T => (typeof value === "string" ? (JSON.parse(value) as T) : value);
const hour = 3600_000;

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

// A response as JSON with every field, defaults too, so no field can hide a secret.
const everyField = <S extends DescMessage>(schema: S, message: MessageShape<S>) =>
  toJsonString(schema, message, { alwaysEmitImplicit: true });

// Each call after the previous one's millisecond, so times order rows strictly.
async function nextMillisecond(): Promise<void> {
  const start = Date.now();
  while (Date.now() === start) await new Promise((resolve) => setTimeout(resolve, 1));
}

describeEachEngine("WebhookService", (engine) => {
  let db: Database;
  let webhooks: Webhooks;
  let api: ReturnType<typeof inMemoryApi>;
  let defaultTenantId: string;
  let receiver: http.Server;
  const received: { headers: Record<string, string>; body: string }[] = [];
  let receiverUrl: string;
  let masterKeys: MasterKeyring;
  let client: WebhookClient;

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        received.push({ headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString("utf8") });
        res.end("ok");
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    db = await createTestDatabase(engine);
    await db.migrate([...adminMigrations, ...outboxMigrations, ...webhookMigrations, ...gatekeeperMigrations]);
    masterKeys = new MasterKeyring(newDataKey());
    const config = loadConfig({ LOG_LEVEL: "silent", ONEROUTER_WEBHOOK_ALLOWED_CIDRS: "127.0.0.0/8" });
    webhooks = createWebhooks({ knex: db.knex, masterKeys, config, logger: createLogger("silent") });
    api = inMemoryApi(
      db.knex,
      webhookRoutes({
        knex: db.knex,
        masterKeys,
        allowedCidrs: config.webhookDelivery.allowedCidrs,
        eventRetentionDays: config.eventRetentionDays,
        worker: webhooks.worker,
        eventHub: webhooks.eventHub,
      }),
    );
    await webhooks.start();
    defaultTenantId = (await createTenant(db.knex, { name: "Webhooks", planId: "enterprise" })).id;
    client = clientFor(await createKey());
  });
  afterAll(async () => {
    await webhooks?.stop();
    await db?.close();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  const clientFor = (secret: string) => api.client(WebhookService, secret);

  async function createKey(environment = Environment.TEST, tenantId = defaultTenantId): Promise<string> {
    return (await createApiKey(db.knex, { tenantId, environment, name: "test key", createdBy: "test" })).secret;
  }

  // A tenant of its own, so lists hold only what the test made.
  async function newTenant(environment = Environment.TEST) {
    const name = `tenant-${randomBytes(4).toString("hex")}`;
    const tenant = await createTenant(db.knex, { name, planId: "enterprise" });
    return { id: tenant.id, client: clientFor(await createKey(environment, tenant.id)) };
  }

  async function createEndpoint(on: WebhookClient = client, eventTypes: string[] = []) {
    const { endpoint, secret } = await on.createEndpoint({ url: receiverUrl, eventTypes });
    return { ...endpoint!, secret };
  }

  // An event as a state change would append it, already fanned out with no
  // deliveries, so only the deliveries a test makes exist.
  async function seedEvent(tenantId: string, type: EventType, environment = Environment.TEST) {
    await nextMillisecond();
    return db.knex.transaction(async (trx) => {
      const event = await appendEvent(trx, { type, tenantId, environment });
      await recordFannedOutEvent(trx, event);
      return event;
    });
  }

  async function seedDelivery(
    tenantId: string,
    eventId: string,
    endpointId: string,
    state: { status: "pending" | "succeeded" | "failed"; createdAt?: Date; attemptCount?: number },
  ) {
    const id = newId("dlv");
    const createdAt = state.createdAt ?? new Date();
    await db.knex("webhook_deliveries").insert({
      id,
      tenant_id: tenantId,
      environment: "test",
      event_id: eventId,
      endpoint_id: endpointId,
      status: state.status,
      attempt_count: state.attemptCount ?? 0,
      next_attempt_at: state.status === "pending" ? createdAt : null,
      created_at: createdAt,
      updated_at: createdAt,
    });
    return id;
  }

  async function seedAttempt(
    delivery: { id: string; tenantId: string; eventId: string; endpointId: string },
    attemptNumber: number,
    status: "succeeded" | "failed",
  ) {
    await nextMillisecond();
    const id = newId("dlva");
    await db.knex("webhook_delivery_attempts").insert({
      id,
      delivery_id: delivery.id,
      tenant_id: delivery.tenantId,
      environment: "test",
      event_id: delivery.eventId,
      endpoint_id: delivery.endpointId,
      attempt_number: attemptNumber,
      status,
      response_status_code: status === "succeeded" ? 200 : 500,
      response_body: status === "succeeded" ? "ok" : "upstream broke",
      latency_ms: 42,
      created_at: new Date(),
    });
    return id;
  }

  const deliveriesOf = (eventId: string) => db.knex("webhook_deliveries").where({ event_id: eventId });
  const endpointRow = (id: string) => db.knex("webhook_endpoints").where({ id }).first();

  it("creates an endpoint and shows its secret once, sealed at rest", async () => {
    const key = await createKey();
    const { endpoint, secret } = await clientFor(key).createEndpoint({
      url: receiverUrl,
      description: "Order updates",
      eventTypes: ["payment.*", "refund.failed", "payment.*"],
      metadata: { team: "billing" },
    });
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(endpoint).toMatchObject({
      url: receiverUrl,
      description: "Order updates",
      eventTypes: ["payment.*", "refund.failed"],
      metadata: { team: "billing" },
      status: EndpointStatus.ENABLED,
      environment: Environment.TEST,
      disabledReason: "",
    });
    expect(endpoint!.id).toMatch(/^ep_/);
    expect(endpoint!.createTime).toBeDefined();

    const keyClient = clientFor(key);
    for (const [method, raw] of [
      ["GetEndpoint", everyField(GetEndpointResponseSchema, await keyClient.getEndpoint({ id: endpoint!.id }))],
      ["ListEndpoints", everyField(ListEndpointsResponseSchema, await keyClient.listEndpoints({}))],
      [
        "UpdateEndpoint",
        everyField(
          UpdateEndpointResponseSchema,
          await keyClient.updateEndpoint({ endpoint: { id: endpoint!.id, description: "Orders" }, updateMask: { paths: ["description"] } }),
        ),
      ],
    ] as const) {
      expect(raw).toContain(endpoint!.id);
      expect(raw, method).not.toContain("whsec_");
      expect(raw, method).not.toContain(secret.slice(6));
    }

    const row = await endpointRow(endpoint!.id);
    expect(JSON.stringify(row)).not.toContain(secret.slice(6));
    expect(activeSecrets(masterKeys, endpoint!.id, json<StoredSecret[]>(row.secrets))).toEqual([secret]);
  });

  it("rejects endpoint settings it cannot use, naming the field", async () => {
    const cases: [Parameters<WebhookClient["createEndpoint"]>[0], string][] = [
      [{ url: "" }, "url"],
      [{ url: "not a url" }, "url"],
      [{ url: "ftp://files.example.com/in" }, "url"],
      [{ url: "http://10.0.0.7/hooks" }, "url"],
      [{ url: "http://169.254.169.254/latest/meta-data" }, "url"],
      [{ url: "http://localhost:9000/hooks" }, "url"],
      [{ url: "https://user:pass@hooks.example.com/in" }, "url"],
      [{ url: `https://hooks.example.com/${"a".repeat(2048)}` }, "url"],
      [{ url: receiverUrl, description: "d".repeat(501) }, "description"],
      [{ url: receiverUrl, eventTypes: ["payment.succeeded", "payment.exploded"] }, "event_types[1]"],
      [{ url: receiverUrl, eventTypes: ["invoice.*"] }, "event_types[0]"],
      [{ url: receiverUrl, eventTypes: ["*"] }, "event_types[0]"],
      [{ url: receiverUrl, metadata: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, "v"])) }, "metadata"],
      [{ url: receiverUrl, metadata: { ["k".repeat(41)]: "v" } }, "metadata"],
      [{ url: receiverUrl, metadata: { note: "v".repeat(501) } }, "metadata[note]"],
    ];
    for (const [request, field] of cases) {
      expect(await failure(client.createEndpoint(request)), JSON.stringify(request).slice(0, 80)).toMatchObject({
        code: Code.InvalidArgument,
        reason: "INVALID_FIELD",
        field,
      });
    }

    const live = clientFor(await createKey(Environment.LIVE));
    expect(await failure(live.createEndpoint({ url: "http://hooks.example.com/in" }))).toMatchObject({
      code: Code.InvalidArgument,
      field: "url",
      message: "url: must use https:// in the live environment",
    });
    const { endpoint } = await live.createEndpoint({ url: "https://hooks.example.com/in" });
    expect(endpoint?.environment).toBe(Environment.LIVE);
  });

  it("gets, lists page by page, and deletes endpoints", async () => {
    const tenant = await newTenant();
    const created = [];
    for (let i = 0; i < 3; i++) {
      await nextMillisecond();
      created.push(await createEndpoint(tenant.client));
    }
    const first = await tenant.client.listEndpoints({ pageSize: 2 });
    expect(first.endpoints).toHaveLength(2);
    expect(first.nextPageToken).not.toBe("");
    const second = await tenant.client.listEndpoints({ pageSize: 2, pageToken: first.nextPageToken });
    expect(second.nextPageToken).toBe("");
    expect([...first.endpoints, ...second.endpoints].map((e) => e.id)).toEqual(created.map((e) => e.id).reverse());

    const { endpoint } = await tenant.client.getEndpoint({ id: created[1]!.id });
    expect(endpoint).toMatchObject({ id: created[1]!.id, url: receiverUrl, status: EndpointStatus.ENABLED });

    await tenant.client.deleteEndpoint({ id: created[1]!.id });
    expect(await failure(tenant.client.getEndpoint({ id: created[1]!.id }))).toMatchObject({
      code: Code.NotFound,
      reason: "RESOURCE_NOT_FOUND",
    });
    expect(await failure(tenant.client.deleteEndpoint({ id: created[1]!.id }))).toMatchObject({ code: Code.NotFound });
    expect((await tenant.client.listEndpoints({})).endpoints.map((e) => e.id)).toEqual([created[2]!.id, created[0]!.id]);

    expect(await failure(tenant.client.getEndpoint({ id: "" }))).toMatchObject({ code: Code.InvalidArgument, field: "id" });
    expect(await failure(tenant.client.listEndpoints({ pageToken: "nonsense" }))).toMatchObject({
      code: Code.InvalidArgument,
      field: "page_token",
    });
    expect(await failure(tenant.client.listEndpoints({ pageSize: -1 }))).toMatchObject({
      code: Code.InvalidArgument,
      field: "page_size",
    });
  });

  it("updates only the fields named in the mask", async () => {
    const endpoint = await createEndpoint(client, ["payment.*"]);
    const described = await client.updateEndpoint({
      endpoint: { id: endpoint.id, url: "https://ignored.example.com", description: "Payments feed" },
      updateMask: { paths: ["description"] },
    });
    expect(described.endpoint).toMatchObject({ url: receiverUrl, description: "Payments feed", eventTypes: ["payment.*"] });

    const moved = await client.updateEndpoint({
      endpoint: { id: endpoint.id, url: `${receiverUrl}/v2`, eventTypes: ["refund.*"], metadata: { owner: "ops" } },
      updateMask: { paths: ["url", "event_types", "metadata"] },
    });
    expect(moved.endpoint).toMatchObject({
      url: `${receiverUrl}/v2`,
      description: "Payments feed",
      eventTypes: ["refund.*"],
      metadata: { owner: "ops" },
    });
    expect(timestampDate(moved.endpoint!.updateTime!).getTime()).toBeGreaterThanOrEqual(
      timestampDate(moved.endpoint!.createTime!).getTime(),
    );

    const disabled = await client.updateEndpoint({
      endpoint: { id: endpoint.id, status: EndpointStatus.DISABLED },
      updateMask: { paths: ["status"] },
    });
    expect(disabled.endpoint?.status).toBe(EndpointStatus.DISABLED);

    // OneRouter marked it failing; enabling starts it afresh.
    await db
      .knex("webhook_endpoints")
      .where({ id: endpoint.id })
      .update({ status: "failing", disabled_reason: "every delivery failed for 5 days", failing_since: new Date(Date.now() - 6 * 24 * hour) });
    expect((await client.getEndpoint({ id: endpoint.id })).endpoint).toMatchObject({
      status: EndpointStatus.FAILING,
      disabledReason: "every delivery failed for 5 days",
    });
    const enabled = await client.updateEndpoint({
      endpoint: { id: endpoint.id, status: EndpointStatus.ENABLED },
      updateMask: { paths: ["status"] },
    });
    expect(enabled.endpoint).toMatchObject({ status: EndpointStatus.ENABLED, disabledReason: "" });
    expect((await endpointRow(endpoint.id)).failing_since).toBeNull();

    const invalid: [Parameters<WebhookClient["updateEndpoint"]>[0], string][] = [
      [{ endpoint: { id: endpoint.id, description: "x" } }, "update_mask"],
      [{ endpoint: { id: endpoint.id }, updateMask: { paths: [] } }, "update_mask"],
      [{ endpoint: { id: endpoint.id }, updateMask: { paths: ["secrets"] } }, "update_mask"],
      [{ endpoint: { id: endpoint.id }, updateMask: { paths: ["description", "id"] } }, "update_mask"],
      [{ endpoint: { description: "x" }, updateMask: { paths: ["description"] } }, "endpoint.id"],
      [{ endpoint: { id: endpoint.id, status: EndpointStatus.FAILING }, updateMask: { paths: ["status"] } }, "endpoint.status"],
      [{ endpoint: { id: endpoint.id }, updateMask: { paths: ["status"] } }, "endpoint.status"],
      [{ endpoint: { id: endpoint.id, url: "http://192.168.1.10/in" }, updateMask: { paths: ["url"] } }, "endpoint.url"],
      [{ endpoint: { id: endpoint.id, eventTypes: ["refund.maybe"] }, updateMask: { paths: ["event_types"] } }, "endpoint.event_types[0]"],
    ];
    for (const [request, field] of invalid) {
      expect(await failure(client.updateEndpoint(request)), field).toMatchObject({ code: Code.InvalidArgument, field });
    }
    expect(
      await failure(client.updateEndpoint({ endpoint: { id: "ep_missing" }, updateMask: { paths: ["description"] } })),
    ).toMatchObject({ code: Code.NotFound });
    expect((await client.getEndpoint({ id: endpoint.id })).endpoint).toMatchObject({
      url: `${receiverUrl}/v2`,
      eventTypes: ["refund.*"],
      status: EndpointStatus.ENABLED,
    });
  });

  it("rotates the secret, keeping the previous one until the overlap ends", async () => {
    const endpoint = await createEndpoint();
    const secretsNow = async (at = new Date()) =>
      activeSecrets(masterKeys, endpoint.id, json<StoredSecret[]>((await endpointRow(endpoint.id)).secrets), at);

    const before = Date.now();
    const rotated = await client.rotateEndpointSecret({ id: endpoint.id, overlap: { seconds: 3600n } });
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(endpoint.secret);
    expect(rotated.endpoint?.id).toBe(endpoint.id);
    const expires = timestampDate(rotated.previousSecretExpireTime!).getTime();
    expect(expires).toBeGreaterThanOrEqual(before + hour);
    expect(expires).toBeLessThanOrEqual(Date.now() + hour);
    expect(await secretsNow()).toEqual([rotated.secret, endpoint.secret]);
    expect(await secretsNow(new Date(expires + 1))).toEqual([rotated.secret]);

    // Without an overlap the previous secret signs for a day; older ones stop at once.
    const again = await client.rotateEndpointSecret({ id: endpoint.id });
    const againExpires = timestampDate(again.previousSecretExpireTime!).getTime();
    expect(againExpires - Date.now()).toBeGreaterThan(24 * hour - 60_000);
    expect(againExpires - Date.now()).toBeLessThanOrEqual(24 * hour);
    expect(await secretsNow()).toEqual([again.secret, rotated.secret]);
    expect(json<StoredSecret[]>((await endpointRow(endpoint.id)).secrets)).toHaveLength(2);

    const raw = everyField(GetEndpointResponseSchema, await clientFor(await createKey()).getEndpoint({ id: endpoint.id }));
    expect(raw).not.toContain("whsec_");

    expect(await failure(client.rotateEndpointSecret({ id: endpoint.id, overlap: { seconds: 7n * 86_400n + 1n } }))).toMatchObject({
      code: Code.InvalidArgument,
      field: "overlap",
    });
    expect(await failure(client.rotateEndpointSecret({ id: endpoint.id, overlap: { seconds: -60n } }))).toMatchObject({
      code: Code.InvalidArgument,
      field: "overlap",
    });
    expect(await failure(client.rotateEndpointSecret({ id: "ep_missing" }))).toMatchObject({ code: Code.NotFound });
  });

  it("sends a test event through the delivery path to exactly that endpoint", async () => {
    const tenant = await newTenant();
    const target = await createEndpoint(tenant.client, ["payment.*"]);
    // Would match any event by its filters.
    const bystander = await createEndpoint(tenant.client);

    const { event } = await tenant.client.sendTestEvent({ endpointId: target.id });
    expect(event).toMatchObject({ type: "webhook.test", tenantId: tenant.id, environment: Environment.TEST });
    expect(event?.id).toMatch(/^evt_/);
    expect(event?.data).toMatchObject({ case: "test", value: { message: "This is a test event from OneRouter." } });

    const outbox = await db.knex("outbox_events").where({ id: event!.id }).first();
    expect(outbox).toMatchObject({ tenant_id: tenant.id, environment: "test", type: "webhook.test" });
    // Copied with its delivery, so fan-out by endpoint filters finds it handled.
    const copy = await db.knex("webhook_events").where({ id: event!.id }).first();
    expect(copy).toMatchObject({ tenant_id: tenant.id, environment: "test", type: "webhook.test" });
    expect(new Uint8Array(copy.payload)).toEqual(new Uint8Array(outbox.payload));
    const deliveries = await deliveriesOf(event!.id);
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject({ endpoint_id: target.id, tenant_id: tenant.id, environment: "test" });
    expect(["pending", "succeeded"]).toContain(deliveries[0].status);
    expect(deliveries.map((d: { endpoint_id: string }) => d.endpoint_id)).not.toContain(bystander.id);

    expect((await tenant.client.getEvent({ id: event!.id })).event).toEqual(event);

    // Delivered as any event is: proto3 JSON, signed with the endpoint's secret.
    const delivery = await waitFor("the test event's delivery", () =>
      received.find((r) => r.headers["webhook-id"] === event!.id),
    );
    new Webhook(target.secret).verify(delivery.body, delivery.headers);
    expect(fromJsonString(EventSchema, delivery.body)).toEqual(event);

    await tenant.client.updateEndpoint({ endpoint: { id: target.id, status: EndpointStatus.DISABLED }, updateMask: { paths: ["status"] } });
    expect(await failure(tenant.client.sendTestEvent({ endpointId: target.id }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "ENDPOINT_NOT_ENABLED",
    });
    expect(await failure(tenant.client.sendTestEvent({ endpointId: "" }))).toMatchObject({
      code: Code.InvalidArgument,
      field: "endpoint_id",
    });
    expect(await failure(tenant.client.sendTestEvent({ endpointId: "ep_missing" }))).toMatchObject({ code: Code.NotFound });
  });

  it("lists every event type with an example that parses back", async () => {
    const { eventTypes } = await client.listEventTypes({});
    expect(eventTypes.map((t) => t.name)).toEqual([...eventTypeNames.values()]);
    expect(eventTypes).toHaveLength(18);
    for (const type of eventTypes) {
      expect(type.description).not.toBe("");
      expect(fromJsonString(EventSchema, type.exampleJson).type).toBe(type.name);
    }
  });

  it("lists events newest first, filtered by type and creation time, page by page", async () => {
    const tenant = await newTenant();
    const types = [
      EventType.PAYMENT_CREATED,
      EventType.PAYMENT_SUCCEEDED,
      EventType.REFUND_FAILED,
      EventType.MESSAGE_SENT,
      EventType.WEBHOOK_ENDPOINT_DISABLED,
    ];
    const events = [];
    for (const type of types) events.push(await seedEvent(tenant.id, type));
    const newestFirst = events.map((e) => e.id).reverse();
    // Not the caller's: another tenant's, and the same tenant's live events.
    const other = await newTenant();
    await seedEvent(other.id, EventType.PAYMENT_CREATED);
    await seedEvent(tenant.id, EventType.PAYMENT_CREATED, Environment.LIVE);

    const ids = async (request: Parameters<WebhookClient["listEvents"]>[0]) =>
      (await tenant.client.listEvents(request)).events.map((e) => e.id);

    expect(await ids({})).toEqual(newestFirst);
    const listed = (await tenant.client.listEvents({})).events;
    expect(listed[0]).toEqual(events[4]);

    expect(await ids({ eventTypes: ["payment.*"] })).toEqual([events[1]!.id, events[0]!.id]);
    expect(await ids({ eventTypes: ["payment.*", "refund.failed"] })).toEqual([events[2]!.id, events[1]!.id, events[0]!.id]);
    // "_" is no wildcard in a prefix.
    expect(await ids({ eventTypes: ["webhook_endpoint.*"] })).toEqual([events[4]!.id]);
    expect(await ids({ eventTypes: ["webhook.*"] })).toEqual([]);

    const createTime = { startTime: events[1]!.createTime, endTime: events[3]!.createTime };
    expect(await ids({ createTime })).toEqual([events[2]!.id, events[1]!.id]);
    expect(await ids({ createTime: { startTime: events[3]!.createTime } })).toEqual([events[4]!.id, events[3]!.id]);
    expect(await ids({ createTime: { endTime: events[1]!.createTime } })).toEqual([events[0]!.id]);
    expect(await ids({ createTime, eventTypes: ["refund.*"] })).toEqual([events[2]!.id]);

    const pages: string[] = [];
    let pageToken = "";
    let calls = 0;
    do {
      const page = await tenant.client.listEvents({ pageSize: 2, pageToken });
      expect(page.events.length).toBeLessThanOrEqual(2);
      pages.push(...page.events.map((e) => e.id));
      pageToken = page.nextPageToken;
      calls++;
    } while (pageToken !== "");
    expect(calls).toBe(3);
    expect(pages).toEqual(newestFirst);

    expect(await failure(tenant.client.listEvents({ eventTypes: ["payment.*", "payments.*"] }))).toMatchObject({
      code: Code.InvalidArgument,
      field: "event_types[1]",
    });
    expect(
      await failure(tenant.client.listEvents({ createTime: { startTime: events[3]!.createTime, endTime: events[1]!.createTime } })),
    ).toMatchObject({ code: Code.InvalidArgument, field: "create_time" });
    // A time JavaScript's Date cannot hold is the caller's mistake, not a server error.
    expect(await failure(tenant.client.listEvents({ createTime: { startTime: { seconds: 10n ** 15n, nanos: 0 } } }))).toMatchObject({
      code: Code.InvalidArgument,
      field: "create_time.start_time",
    });
    expect(await failure(tenant.client.listEvents({ pageToken: "x" }))).toMatchObject({
      code: Code.InvalidArgument,
      field: "page_token",
    });
    expect(await failure(tenant.client.getEvent({ id: "" }))).toMatchObject({ code: Code.InvalidArgument, field: "id" });
    expect(await failure(tenant.client.getEvent({ id: "evt_missing" }))).toMatchObject({ code: Code.NotFound });
  });

  it("lists delivery attempts filtered by endpoint, event and status", async () => {
    const tenant = await newTenant();
    const first = await createEndpoint(tenant.client);
    const second = await createEndpoint(tenant.client);
    const paid = await seedEvent(tenant.id, EventType.PAYMENT_SUCCEEDED);
    const refunded = await seedEvent(tenant.id, EventType.REFUND_SUCCEEDED);
    const toFirst = { tenantId: tenant.id, eventId: paid.id, endpointId: first.id };
    const paidToFirst = { ...toFirst, id: await seedDelivery(tenant.id, paid.id, first.id, { status: "succeeded", attemptCount: 3 }) };
    const paidToSecond = {
      tenantId: tenant.id,
      eventId: paid.id,
      endpointId: second.id,
      id: await seedDelivery(tenant.id, paid.id, second.id, { status: "failed", attemptCount: 1 }),
    };
    const refundedToFirst = {
      tenantId: tenant.id,
      eventId: refunded.id,
      endpointId: first.id,
      id: await seedDelivery(tenant.id, refunded.id, first.id, { status: "failed", attemptCount: 1 }),
    };
    const a1 = await seedAttempt(paidToFirst, 1, "failed");
    const a2 = await seedAttempt(paidToFirst, 2, "failed");
    const a3 = await seedAttempt(paidToFirst, 3, "succeeded");
    const b1 = await seedAttempt(paidToSecond, 1, "failed");
    const c1 = await seedAttempt(refundedToFirst, 1, "failed");

    const ids = async (request: Parameters<WebhookClient["listDeliveryAttempts"]>[0]) =>
      (await tenant.client.listDeliveryAttempts(request)).attempts.map((a) => a.id);

    expect(await ids({})).toEqual([c1, b1, a3, a2, a1]);
    expect(await ids({ endpointId: first.id })).toEqual([c1, a3, a2, a1]);
    expect(await ids({ eventId: paid.id })).toEqual([b1, a3, a2, a1]);
    expect(await ids({ endpointId: first.id, eventId: paid.id, status: DeliveryStatus.FAILED })).toEqual([a2, a1]);
    expect(await ids({ status: DeliveryStatus.SUCCEEDED })).toEqual([a3]);
    expect(await ids({ status: DeliveryStatus.PENDING })).toEqual([]);

    const { attempts } = await tenant.client.listDeliveryAttempts({ eventId: paid.id, endpointId: first.id, pageSize: 1 });
    expect(attempts[0]).toMatchObject({
      id: a3,
      eventId: paid.id,
      endpointId: first.id,
      status: DeliveryStatus.SUCCEEDED,
      attemptNumber: 3,
      responseStatusCode: 200,
      responseBody: "ok",
      latency: { seconds: 0n, nanos: 42_000_000 },
    });

    const first2 = await tenant.client.listDeliveryAttempts({ pageSize: 2 });
    const second2 = await tenant.client.listDeliveryAttempts({ pageSize: 2, pageToken: first2.nextPageToken });
    const third2 = await tenant.client.listDeliveryAttempts({ pageSize: 2, pageToken: second2.nextPageToken });
    expect(third2.nextPageToken).toBe("");
    expect([...first2.attempts, ...second2.attempts, ...third2.attempts].map((a) => a.id)).toEqual([c1, b1, a3, a2, a1]);
  });

  it("resends an event to an endpoint now, creating the delivery if its filters did not match", async () => {
    const tenant = await newTenant();
    const refunds = await createEndpoint(tenant.client, ["refund.*"]);
    const payments = await createEndpoint(tenant.client, ["payment.*"]);
    const paid = await seedEvent(tenant.id, EventType.PAYMENT_SUCCEEDED);

    // The refunds endpoint was never owed this payment event.
    const before = Date.now();
    const { attempt } = await tenant.client.resendEvent({ eventId: paid.id, endpointId: refunds.id });
    expect(attempt).toMatchObject({ eventId: paid.id, endpointId: refunds.id, attemptNumber: 1 });
    expect([DeliveryStatus.PENDING, DeliveryStatus.SUCCEEDED]).toContain(attempt!.status);
    const created = await deliveriesOf(paid.id);
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ endpoint_id: refunds.id, tenant_id: tenant.id, environment: "test" });
    expect(["pending", "succeeded"]).toContain(created[0].status);

    // A delivery that used up its retries is due again, as its next attempt.
    const exhausted = await seedDelivery(tenant.id, paid.id, payments.id, {
      status: "failed",
      attemptCount: 8,
      createdAt: new Date(Date.now() - 3 * 24 * hour),
    });
    const resent = await tenant.client.resendEvent({ eventId: paid.id, endpointId: payments.id });
    expect(resent.attempt).toMatchObject({ eventId: paid.id, endpointId: payments.id, attemptNumber: 9 });
    const requeued = await db.knex("webhook_deliveries").where({ id: exhausted }).first();
    expect(["pending", "succeeded"]).toContain(requeued.status);
    if (requeued.status === "pending") expect(new Date(requeued.next_attempt_at).getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(await deliveriesOf(paid.id)).toHaveLength(2);

    await tenant.client.updateEndpoint({ endpoint: { id: payments.id, status: EndpointStatus.DISABLED }, updateMask: { paths: ["status"] } });
    expect(await failure(tenant.client.resendEvent({ eventId: paid.id, endpointId: payments.id }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "ENDPOINT_NOT_ENABLED",
    });
    expect(await failure(tenant.client.resendEvent({ eventId: "evt_missing", endpointId: refunds.id }))).toMatchObject({
      code: Code.NotFound,
    });
    expect(await failure(tenant.client.resendEvent({ eventId: paid.id, endpointId: "ep_missing" }))).toMatchObject({
      code: Code.NotFound,
    });
    expect(await failure(tenant.client.resendEvent({ endpointId: refunds.id }))).toMatchObject({
      code: Code.InvalidArgument,
      field: "event_id",
    });
    expect(await failure(tenant.client.resendEvent({ eventId: paid.id }))).toMatchObject({
      code: Code.InvalidArgument,
      field: "endpoint_id",
    });
  });

  it("recovers an endpoint's failed deliveries since a time and re-enables it", async () => {
    const tenant = await newTenant();
    const failing = await createEndpoint(tenant.client);
    const neighbour = await createEndpoint(tenant.client);
    await db
      .knex("webhook_endpoints")
      .where({ id: failing.id })
      .update({ status: "failing", disabled_reason: "every delivery failed for 5 days", failing_since: new Date(Date.now() - 5 * 24 * hour) });
    const at = (hoursAgo: number) => new Date(Date.now() - hoursAgo * hour);
    const events = [];
    for (let i = 0; i < 5; i++) events.push(await seedEvent(tenant.id, EventType.PAYMENT_SUCCEEDED));
    const recent = await seedDelivery(tenant.id, events[0]!.id, failing.id, { status: "failed", createdAt: at(2), attemptCount: 8 });
    const earlier = await seedDelivery(tenant.id, events[1]!.id, failing.id, { status: "failed", createdAt: at(20), attemptCount: 8 });
    const delivered = await seedDelivery(tenant.id, events[2]!.id, failing.id, { status: "succeeded", createdAt: at(3), attemptCount: 1 });
    const tooOld = await seedDelivery(tenant.id, events[3]!.id, failing.id, { status: "failed", createdAt: at(48), attemptCount: 8 });
    const elsewhere = await seedDelivery(tenant.id, events[4]!.id, neighbour.id, { status: "failed", createdAt: at(2), attemptCount: 8 });

    const since = timestampFromDate(at(24));
    expect(await tenant.client.recoverEndpoint({ endpointId: failing.id, sinceTime: since })).toMatchObject({ eventsRequeued: 2 });

    const statusOf = async (id: string) => (await db.knex("webhook_deliveries").where({ id }).first()).status as string;
    for (const id of [recent, earlier]) expect(["pending", "succeeded"]).toContain(await statusOf(id));
    expect(await statusOf(delivered)).toBe("succeeded");
    expect(await statusOf(tooOld)).toBe("failed");
    expect(await statusOf(elsewhere)).toBe("failed");
    expect((await tenant.client.getEndpoint({ id: failing.id })).endpoint).toMatchObject({
      status: EndpointStatus.ENABLED,
      disabledReason: "",
    });
    expect((await endpointRow(failing.id)).failing_since).toBeNull();

    await tenant.client.updateEndpoint({ endpoint: { id: neighbour.id, status: EndpointStatus.DISABLED }, updateMask: { paths: ["status"] } });
    expect(await failure(tenant.client.recoverEndpoint({ endpointId: neighbour.id, sinceTime: since }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "ENDPOINT_NOT_ENABLED",
    });
    expect(await statusOf(elsewhere)).toBe("failed");

    for (const sinceTime of [undefined, timestampFromDate(new Date(Date.now() + hour)), timestampFromDate(at(31 * 24))]) {
      expect(await failure(tenant.client.recoverEndpoint({ endpointId: failing.id, sinceTime }))).toMatchObject({
        code: Code.InvalidArgument,
        field: "since_time",
      });
    }
    expect(await failure(tenant.client.recoverEndpoint({ endpointId: "ep_missing", sinceTime: since }))).toMatchObject({
      code: Code.NotFound,
    });
  });

  it("keeps tenants and environments apart", async () => {
    const mine = await newTenant();
    const theirs = await newTenant();
    const theirEndpoint = await createEndpoint(theirs.client);
    const { event: theirEvent } = await theirs.client.sendTestEvent({ endpointId: theirEndpoint.id });
    const theirDelivery = (await deliveriesOf(theirEvent!.id))[0] as { id: string };
    const theirAttempt = await seedAttempt(
      { id: theirDelivery.id, tenantId: theirs.id, eventId: theirEvent!.id, endpointId: theirEndpoint.id },
      1,
      "failed",
    );
    const myEndpoint = await createEndpoint(mine.client);
    const { event: myEvent } = await mine.client.sendTestEvent({ endpointId: myEndpoint.id });

    const notFound = { code: Code.NotFound, reason: "RESOURCE_NOT_FOUND" };
    const since = timestampFromDate(new Date(Date.now() - hour));
    const calls: [string, () => Promise<unknown>][] = [
      ["GetEndpoint", () => mine.client.getEndpoint({ id: theirEndpoint.id })],
      ["UpdateEndpoint", () => mine.client.updateEndpoint({ endpoint: { id: theirEndpoint.id, description: "mine" }, updateMask: { paths: ["description"] } })],
      ["DeleteEndpoint", () => mine.client.deleteEndpoint({ id: theirEndpoint.id })],
      ["RotateEndpointSecret", () => mine.client.rotateEndpointSecret({ id: theirEndpoint.id })],
      ["SendTestEvent", () => mine.client.sendTestEvent({ endpointId: theirEndpoint.id })],
      ["GetEvent", () => mine.client.getEvent({ id: theirEvent!.id })],
      ["ResendEvent (their event)", () => mine.client.resendEvent({ eventId: theirEvent!.id, endpointId: myEndpoint.id })],
      ["ResendEvent (their endpoint)", () => mine.client.resendEvent({ eventId: myEvent!.id, endpointId: theirEndpoint.id })],
      ["RecoverEndpoint", () => mine.client.recoverEndpoint({ endpointId: theirEndpoint.id, sinceTime: since })],
    ];
    for (const [method, call] of calls) expect(await failure(call()), method).toMatchObject(notFound);

    expect((await mine.client.listEndpoints({})).endpoints.map((e) => e.id)).toEqual([myEndpoint.id]);
    expect((await mine.client.listEvents({})).events.map((e) => e.id)).toEqual([myEvent!.id]);
    const myAttempts = await mine.client.listDeliveryAttempts({});
    expect(myAttempts.attempts.map((a) => a.id)).not.toContain(theirAttempt);
    expect((await mine.client.listDeliveryAttempts({ endpointId: theirEndpoint.id })).attempts).toEqual([]);
    expect((await mine.client.listDeliveryAttempts({ eventId: theirEvent!.id })).attempts).toEqual([]);

    // Their endpoint is untouched.
    const untouched = await theirs.client.getEndpoint({ id: theirEndpoint.id });
    expect(untouched.endpoint).toMatchObject({ description: "", url: receiverUrl });
    expect(await deliveriesOf(myEvent!.id)).toHaveLength(1);
    expect(await deliveriesOf(theirEvent!.id)).toHaveLength(1);

    // The same tenant's live key sees none of its test objects.
    const live = clientFor(await createKey(Environment.LIVE, mine.id));
    expect((await live.listEndpoints({})).endpoints).toEqual([]);
    expect((await live.listEvents({})).events).toEqual([]);
    expect(await failure(live.getEndpoint({ id: myEndpoint.id }))).toMatchObject(notFound);
    expect(await failure(live.getEvent({ id: myEvent!.id }))).toMatchObject(notFound);
    expect(await failure(live.sendTestEvent({ endpointId: myEndpoint.id }))).toMatchObject(notFound);
  });
});
