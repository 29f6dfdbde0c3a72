import { startEmulator } from "@onerouter/sandbox";
import {
  paypalEmulator,
  paypalTestTokens,
  type PaypalEmulator,
  type PaypalEmulatorOptions,
  type PaypalWebhookEventType,
} from "@onerouter/emulators/paypal";
import type { ConnectorContext, WebhookInput } from "../connector";
import type { ConnectorHarness } from "../contract";
import { paypalConnector } from "./index";
import { loopbackTransport } from "@onerouter/routing/testing";

// The PayPal connector wired to a PayPal emulator on a free loopback port.

export const paypalWebhookId = "8PT597110X687430LKGECATA";

export interface PaypalHarness extends ConnectorHarness {
  paypal: PaypalEmulator;
  // A webhook about the order as PayPal would sign and send it now.
  webhook(eventType: PaypalWebhookEventType, orderId: string, transmissionTime?: Date): WebhookInput;
}

export async function startPaypalHarness(options: PaypalEmulatorOptions = {}): Promise<PaypalHarness> {
  const paypal = paypalEmulator({ clientId: "AharnessClientId", clientSecret: "EharnessClientSecret", ...options });
  const running = await startEmulator(paypal);
  const ctx: ConnectorContext = {
    credentials: { client_id: paypal.clientId, client_secret: paypal.clientSecret, webhook_id: paypalWebhookId },
    settings: { base_url: running.url },
    timeoutMs: 5000,
    transport: loopbackTransport(),
  };
  const webhook = (eventType: PaypalWebhookEventType, orderId: string, transmissionTime?: Date): WebhookInput => {
    const event = paypal.webhookEvent(eventType, orderId, running.url);
    const signed = paypal.signWebhook(event, { apiUrl: running.url, webhookId: paypalWebhookId, transmissionTime });
    return {
      rawBody: Buffer.from(signed.body),
      headers: signed.headers,
      url: "https://onerouter.example/webhooks/paypal/acct_harness",
    };
  };
  return {
    paypal,
    webhook,
    connector: paypalConnector,
    ctx,
    badCredentialsCtx: { ...ctx, credentials: { ...ctx.credentials, client_secret: "EnotTheSecret" } },
    emulator: running,
    tokens: { succeed: paypalTestTokens.succeed, decline: paypalTestTokens.decline, declineCode: "card_declined" },
    // PayPal takes neither INR (in-country accounts only) nor KWD.
    currencies: ["USD", "JPY"],
    async providerAmount(orderId) {
      const order = paypal.order(orderId);
      if (!order) throw new Error(`emulator has no order ${orderId}`);
      return order.purchaseUnit.amount.value;
    },
    async chargeCount(attemptId) {
      return paypal
        .ordersWithCustomId(attemptId)
        .filter((o) => o.captureIds.length + o.authorizationIds.length > 0).length;
    },
    signedWebhook: async (orderId) => webhook("PAYMENT.CAPTURE.COMPLETED", orderId),
    staleWebhook: async (orderId) =>
      webhook("PAYMENT.CAPTURE.COMPLETED", orderId, new Date(Date.now() - 3600_000)),
    close: () => running.close(),
  };
}
