import { startEmulator } from "@onerouter/sandbox";
import { razorpayEmulator, razorpayTestTokens, type RazorpayEmulator, type RazorpayWebhookEvent } from "@onerouter/emulators/razorpay";
import type { ConnectorContext, WebhookInput } from "../connector";
import type { ConnectorHarness } from "../contract";
import { razorpayConnector } from "./index";
import { loopbackTransport } from "@onerouter/routing/testing";

// Test credentials shaped like Razorpay's test-mode keys.
export const razorpayTestCredentials = {
  key_id: "rzp_test_1DP5mmOlF5G5ag",
  key_secret: "thisisasecretkeyfortests",
  webhook_secret: "whsec_razorpay_tests",
};

export interface RazorpayHarness extends ConnectorHarness {
  razorpay: RazorpayEmulator;
  webhook(event: RazorpayWebhookEvent, ids: { paymentId: string; refundId?: string }): WebhookInput;
}

// Starts the Razorpay emulator on a free port, with the connector pointed at it.
export async function startRazorpayHarness(options: { webhookUrl?: string } = {}): Promise<RazorpayHarness> {
  const razorpay = razorpayEmulator({
    keyId: razorpayTestCredentials.key_id,
    keySecret: razorpayTestCredentials.key_secret,
    webhookSecret: razorpayTestCredentials.webhook_secret,
    webhookUrl: options.webhookUrl,
  });
  const emulator = await startEmulator(razorpay);
  const ctx: ConnectorContext = {
    credentials: { ...razorpayTestCredentials },
    settings: { base_url: emulator.url },
    timeoutMs: 5_000,
    transport: loopbackTransport(),
  };
  const webhook = (event: RazorpayWebhookEvent, ids: { paymentId: string; refundId?: string }): WebhookInput => {
    const signed = razorpay.signedWebhook(event, ids);
    return {
      rawBody: Buffer.from(signed.body),
      headers: { "content-type": "application/json", ...signed.headers },
      url: "https://onerouter.example/v1/webhooks/razorpay/acct_test",
    };
  };
  return {
    connector: razorpayConnector,
    ctx,
    badCredentialsCtx: { ...ctx, credentials: { ...ctx.credentials, key_secret: "not-the-secret" } },
    emulator,
    razorpay,
    tokens: { succeed: razorpayTestTokens.success, decline: razorpayTestTokens.insufficientFunds, declineCode: "insufficient_funds" },
    currencies: ["USD", "INR", "JPY", "KWD"],
    providerAmount: async (providerPaymentId) => razorpay.providerAmount(providerPaymentId),
    chargeCount: async (attemptId) => razorpay.chargeCount(attemptId),
    signedWebhook: async (providerPaymentId) => webhook("payment.captured", { paymentId: providerPaymentId }),
    webhook,
    close: () => emulator.close(),
  };
}
