import { newSandboxApiKey } from "@onerouter/sandbox";
import type { ConnectorContext } from "@onerouter/routing";
import { sandboxEvent, signSandboxEvent, startSandboxProvider } from "@onerouter/sandbox";
import type { MessagingConnector } from "../connector";
import type { MessagingHarness } from "../contract";
import { loopbackTransport } from "@onerouter/routing/testing";

// Wiring for this folder's tests: a sandbox server of the test's own and a
// sandbox messaging connector pointed at it.

interface SandboxMessage {
  id: string;
  status: string;
  failure: { code: string; message: string } | null;
}

export async function startSandboxTestBed(connector: MessagingConnector): Promise<MessagingHarness> {
  const emulator = await startSandboxProvider();
  const apiKey = newSandboxApiKey();
  const ctx: ConnectorContext = { credentials: { api_key: apiKey }, settings: { base_url: emulator.url }, timeoutMs: 5000, transport: loopbackTransport() };

  async function sandboxGet<T>(path: string): Promise<T> {
    const res = await fetch(new URL(path, emulator.url), { headers: { authorization: `Bearer ${apiKey}` } });
    if (!res.ok) throw new Error(`GET ${path} answered ${res.status}`);
    return (await res.json()) as T;
  }

  return {
    connector,
    ctx,
    badCredentialsCtx: { ...ctx, credentials: { api_key: "sk_sandbox_wrong" } },
    emulator,
    rejectedDestination: {
      to: connector.channel === "sms" ? "+15005550001" : "rejected@sandbox.test",
      providerCode: "invalid_destination",
    },
    async sentCount(attemptId) {
      return emulator.messagesForAttempt(apiKey, attemptId);
    },
    // The callback the sandbox sends when the message reaches `status`.
    async deliveryCallback(providerMessageId, status) {
      const message = await sandboxGet<SandboxMessage>(`/v1/messages/${providerMessageId}`);
      const failure = status === "failed" ? { code: "carrier_rejected", message: "The carrier rejected the message." } : null;
      const { body, headers } = signSandboxEvent(apiKey, sandboxEvent(`message.${status}`, { ...message, status, failure }));
      return { rawBody: Buffer.from(body), headers, url: "http://127.0.0.1/webhooks/inbound/sandbox_sms/pa_test" };
    },
    close: () => emulator.close(),
  };
}
