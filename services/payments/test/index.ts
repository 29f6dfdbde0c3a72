import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type { RoutingProfileSchema } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import type { Event } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { PaymentService } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import type { Knex } from "@onerouter/core";
import type { StorageEngine } from "@onerouter/core/testing";
import {
  addTestAccount,
  newTestTenant,
  outboxEvents,
  sandboxRecords,
  setRoutingProfile as setCategoryRoutingProfile,
  startProviderRoomTestBed,
  type ProviderRoomTestBed,
  type ProviderRoomTestOptions,
} from "@onerouter/routing/testing";
import { newSandboxApiKey } from "../src/connectors/sandbox/index";
import { paymentConnectors } from "../src/connectors/index";
import type { PaymentEngine } from "../src/engine";
import { paymentsRoom } from "../src/room";

export { failure } from "@onerouter/gatekeeper/testing";

// Helpers for the payments room's tests: the room alone beside the built-in
// sandbox, a tenant with keys, sandbox accounts pointing at sandbox servers
// the test runs, and the outbox.

export type TestPaymentsRoom = ProviderRoomTestBed<PaymentEngine>;

export function startTestPaymentsRoom(engine: StorageEngine, env?: Record<string, string>, options?: ProviderRoomTestOptions): Promise<TestPaymentsRoom> {
  return startProviderRoomTestBed(engine, paymentsRoom, ({ connectors, sandboxUrl, publicUrl, ...parts }) => ({
    ...parts,
    connectors: connectors.register("payments", paymentConnectors({ baseUrl: sandboxUrl, webhookBaseUrl: publicUrl })),
  }), env, options);
}

export type PaymentsClient = Client<typeof PaymentService>;

export function paymentsClient(app: TestPaymentsRoom, secret: string): PaymentsClient {
  return app.client(PaymentService, secret);
}

export interface TestTenant {
  id: string;
  client: PaymentsClient;
  liveClient: PaymentsClient;
}

export async function newTenant(app: TestPaymentsRoom, name: string): Promise<TestTenant> {
  const { id, testSecret, liveSecret } = await newTestTenant(app, name);
  return { id, client: paymentsClient(app, testSecret), liveClient: paymentsClient(app, liveSecret) };
}

// A sandbox payments account in the tenant's test environment; its api_key
// is returned so the test can ask the sandbox what it holds.
export async function addSandboxAccount(
  app: TestPaymentsRoom,
  tenantId: string,
  settings: Record<string, string>,
  provider = "sandbox",
): Promise<{ id: string; apiKey: string }> {
  const apiKey = newSandboxApiKey();
  const { id } = await addTestAccount(app, tenantId, { category: "payments", provider, credentials: { api_key: apiKey }, settings });
  return { id, apiKey };
}

export function setRoutingProfile(app: TestPaymentsRoom, tenantId: string, profile: MessageInitShape<typeof RoutingProfileSchema>) {
  return setCategoryRoutingProfile(app, tenantId, "payments", profile);
}

// The payments a sandbox server holds for one of its API keys.
export function sandboxPayments(baseUrl: string, apiKey: string) {
  return sandboxRecords(baseUrl, apiKey, "/v1/payments");
}

// The outbox events about one payment, oldest first.
export async function paymentEvents(app: TestPaymentsRoom, paymentId: string): Promise<Event[]> {
  return (await outboxEvents(app)).filter((e) => {
    const data = e.data;
    if (data.case === "payment") return data.value.payment?.id === paymentId;
    if (data.case === "refund") return data.value.refund?.paymentId === paymentId;
    return false;
  });
}

// Fills an environment of a tenant with `count` succeeded payments, one
// sandbox attempt each, a second apart, in two set-based statements: for
// measuring lists and pages at scale without making each payment.
export async function seedPayments(
  knex: Knex,
  options: { tenantId: string; count: number; environment?: "test" | "live"; providerAccountId?: string },
): Promise<void> {
  const { tenantId, count, environment = "test", providerAccountId = "pa_seeded" } = options;
  await knex.raw(
    `insert into payments (id, tenant_id, environment, amount, currency, capture_method, status, provider, provider_account_id,
       amount_captured, created_at, updated_at)
     select 'pay_seed' || lpad(g::text, 8, '0'), ?, ?, 1000 + g % 9000, 'EUR', 'automatic', 'succeeded', 'sandbox', ?,
       1000 + g % 9000, now() - g * interval '1 second', now() - g * interval '1 second'
     from generate_series(1, ?) as g`,
    [tenantId, environment, providerAccountId, count],
  );
  await knex.raw(
    `insert into payment_attempts (id, payment_id, tenant_id, environment, provider, provider_account_id, status, latency_ms,
       created_at, updated_at)
     select 'pat_seed' || lpad(g::text, 8, '0'), 'pay_seed' || lpad(g::text, 8, '0'), ?, ?, 'sandbox', ?, 'succeeded', 20 + g % 200,
       now() - g * interval '1 second', now() - g * interval '1 second'
     from generate_series(1, ?) as g`,
    [tenantId, environment, providerAccountId, count],
  );
}
