import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type { RoutingProfileSchema } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import type { Event } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { MessagingService } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { newSandboxApiKey } from "@onerouter/sandbox";
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
import { messagingConnectors } from "../src/connectors/index";
import type { MessagingEngine } from "../src/engine";
import { messagingRoom } from "../src/room";

export { failure } from "@onerouter/gatekeeper/testing";

// Helpers for the messaging room's tests: the room alone beside the built-in
// sandbox, a tenant with keys, provider accounts pointing at emulators the
// test runs, and the outbox.

export type TestMessagingRoom = ProviderRoomTestBed<MessagingEngine>;

export function startTestMessagingRoom(engine: StorageEngine, env?: Record<string, string>, options?: ProviderRoomTestOptions): Promise<TestMessagingRoom> {
  return startProviderRoomTestBed(
    engine,
    messagingRoom,
    ({ connectors, sandboxUrl, publicUrl, ...parts }) => ({
      ...parts,
      connectors: connectors.register("messaging", messagingConnectors({ baseUrl: sandboxUrl })),
      callbackBaseUrl: publicUrl,
    }),
    env,
    options,
  );
}

export type MessagingClient = Client<typeof MessagingService>;

export interface TestTenant {
  id: string;
  client: MessagingClient;
  liveClient: MessagingClient;
}

export async function newTenant(app: TestMessagingRoom, name: string): Promise<TestTenant> {
  const { id, testSecret, liveSecret } = await newTestTenant(app, name);
  return { id, client: app.client(MessagingService, testSecret), liveClient: app.client(MessagingService, liveSecret) };
}

// A messaging account in the tenant's test environment.
export function addAccount(
  app: TestMessagingRoom,
  tenantId: string,
  provider: string,
  credentials: Record<string, string>,
  settings: Record<string, string>,
): Promise<{ id: string }> {
  return addTestAccount(app, tenantId, { category: "messaging", provider, credentials, settings });
}

// A sandbox SMS or email account; its api_key is returned so the test can
// ask the sandbox what it holds.
export async function addSandboxAccount(
  app: TestMessagingRoom,
  tenantId: string,
  provider: "sandbox_sms" | "sandbox_email",
  settings: Record<string, string> = {},
): Promise<{ id: string; apiKey: string }> {
  const apiKey = newSandboxApiKey();
  const { id } = await addAccount(app, tenantId, provider, { api_key: apiKey }, settings);
  return { id, apiKey };
}

export function setRoutingProfile(app: TestMessagingRoom, tenantId: string, profile: MessageInitShape<typeof RoutingProfileSchema>) {
  return setCategoryRoutingProfile(app, tenantId, "messaging", profile);
}

// The messages a sandbox server holds for one of its API keys, newest first.
export function sandboxMessages(baseUrl: string, apiKey: string) {
  return sandboxRecords(baseUrl, apiKey, "/v1/messages");
}

// The outbox events about one message, oldest first.
export async function messageEvents(app: TestMessagingRoom, messageId: string): Promise<Event[]> {
  return (await outboxEvents(app)).filter((e) => e.data.case === "message" && e.data.value.message?.id === messageId);
}

// Delivery callbacks arrive on their own time; waits are bounded but generous
// for a busy machine.
export const callbackWait = { timeout: 15_000, interval: 50 };
