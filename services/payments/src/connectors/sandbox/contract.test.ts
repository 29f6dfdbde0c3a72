import { toDecimalString } from "@onerouter/core";
import { sandboxEvent, signSandboxEvent, startSandboxProvider } from "@onerouter/sandbox";
import type { ConnectorContext, WebhookInput } from "../connector";
import { describePaymentConnectorContract, type ConnectorHarness } from "../contract";
import { newSandboxApiKey, sandboxConnector } from "./index";
import { loopbackTransport } from "@onerouter/routing/testing";

async function start(): Promise<ConnectorHarness> {
  const emulator = await startSandboxProvider();
  const apiKey = newSandboxApiKey();
  const ctx: ConnectorContext = { credentials: { api_key: apiKey }, settings: { base_url: emulator.url }, timeoutMs: 5000, transport: loopbackTransport() };

  async function sandboxGet<T>(path: string): Promise<T> {
    const res = await fetch(new URL(path, emulator.url), { headers: { authorization: `Bearer ${apiKey}` } });
    if (!res.ok) throw new Error(`GET ${path} answered ${res.status}`);
    return (await res.json()) as T;
  }

  async function signedWebhook(providerPaymentId: string, signedAt?: Date): Promise<WebhookInput> {
    const payment = await sandboxGet<{ status: string }>(`/v1/payments/${providerPaymentId}`);
    const { body, headers } = signSandboxEvent(apiKey, sandboxEvent(`payment.${payment.status}`, payment), signedAt);
    return { rawBody: Buffer.from(body), headers, url: "http://127.0.0.1/webhooks/sandbox" };
  }

  return {
    connector: sandboxConnector,
    ctx,
    badCredentialsCtx: { ...ctx, credentials: { api_key: "sk_sandbox_wrong" } },
    emulator,
    tokens: { succeed: "tok_sandbox_success", decline: "tok_sandbox_decline", declineCode: "generic_decline" },
    currencies: ["USD", "INR", "JPY", "KWD"],
    async providerAmount(providerPaymentId) {
      const payment = await sandboxGet<{ amount: string; currency: string }>(`/v1/payments/${providerPaymentId}`);
      return toDecimalString(BigInt(payment.amount), payment.currency);
    },
    async chargeCount(attemptId) {
      const list = await sandboxGet<{ data: unknown[] }>(`/v1/payments?attempt_id=${encodeURIComponent(attemptId)}`);
      return list.data.length;
    },
    signedWebhook: (providerPaymentId) => signedWebhook(providerPaymentId),
    staleWebhook: (providerPaymentId) => signedWebhook(providerPaymentId, new Date(Date.now() - 3600_000)),
    close: () => emulator.close(),
  };
}

describePaymentConnectorContract("sandbox", start, { keepsConnectionsAlive: true });
