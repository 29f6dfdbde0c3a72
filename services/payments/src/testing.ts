import { create, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { ErrorInfoSchema } from "@onerouter/client/gen/google/rpc/error_details_pb";
import { RoutingProfileSchema } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { EventSchema, type Event } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { PaymentService } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { createTenant } from "@onerouter/admin";
import type { TestOneRouter } from "@onerouter/server/testing";
import { newSandboxApiKey } from "./connectors/sandbox/index";

// Helpers for the full-stack payments tests: a tenant with keys, sandbox
// accounts pointing at sandbox servers the test runs, and the outbox.

export type PaymentsClient = Client<typeof PaymentService>;

export function paymentsClient(app: TestOneRouter, secret: string): PaymentsClient {
  return createClient(
    PaymentService,
    createConnectTransport({
      baseUrl: app.baseUrl,
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${secret}`);
          return next(req);
        },
      ],
    }),
  );
}

export interface TestTenant {
  id: string;
  client: PaymentsClient;
  liveClient: PaymentsClient;
}

export async function newTenant(app: TestOneRouter, name: string): Promise<TestTenant> {
  const tenant = await createTenant(app.db.knex, { name, ownerEmail: `${name.toLowerCase().replace(/\W/g, "")}@example.com` });
  const test = await app.createKey(Environment.TEST, tenant.id);
  const live = await app.createKey(Environment.LIVE, tenant.id);
  return { id: tenant.id, client: paymentsClient(app, test.secret), liveClient: paymentsClient(app, live.secret) };
}

// A sandbox payments account in the tenant's test environment; its api_key
// is returned so the test can ask the sandbox what it holds.
export async function addSandboxAccount(
  app: TestOneRouter,
  tenantId: string,
  settings: Record<string, string>,
  provider = "sandbox",
): Promise<{ id: string; apiKey: string }> {
  const apiKey = newSandboxApiKey();
  const account = await app.accounts.create({
    tenantId,
    environment: "test",
    provider,
    category: "payments",
    displayName: `${provider} ${settings.base_url ?? "built-in"}`,
    credentials: { api_key: apiKey },
    settings,
    enabled: true,
  });
  return { id: account.id, apiKey };
}

export async function setRoutingProfile(
  app: TestOneRouter,
  tenantId: string,
  profile: MessageInitShape<typeof RoutingProfileSchema>,
): Promise<void> {
  await app.routing.put({ tenantId, environment: "test", category: "payments" }, create(RoutingProfileSchema, profile));
}

// The payments a sandbox server holds for one of its API keys.
export async function sandboxPayments(baseUrl: string, apiKey: string): Promise<{ id: string; attempt_id: string; status: string }[]> {
  const res = await fetch(new URL("/v1/payments", baseUrl), { headers: { authorization: `Bearer ${apiKey}` } });
  if (!res.ok) throw new Error(`the sandbox answered ${res.status}`);
  return ((await res.json()) as { data: { id: string; attempt_id: string; status: string }[] }).data;
}

// The outbox events about one payment, oldest first.
export async function paymentEvents(app: TestOneRouter, paymentId: string): Promise<Event[]> {
  const rows = (await app.db.knex("outbox_events").orderBy([{ column: "created_at" }, { column: "id" }])) as { payload: Uint8Array }[];
  return rows
    .map((r) => fromBinary(EventSchema, r.payload))
    .filter((e) => {
      const data = e.data;
      if (data.case === "payment") return data.value.payment?.id === paymentId;
      if (data.case === "refund") return data.value.refund?.paymentId === paymentId;
      return false;
    });
}

export async function failure(promise: Promise<unknown>) {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (!err) throw new Error("expected the call to fail");
  const info = err.findDetails(ErrorInfoSchema)[0];
  return { code: err.code, reason: info?.reason, metadata: info?.metadata ?? {}, message: err.rawMessage };
}
