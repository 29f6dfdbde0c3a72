import { startEmulator, type RunningEmulator } from "@onerouter/sandbox";
import { stripeEmulator, type StripeEmulator, type StripeEmulatorOptions } from "@onerouter/emulators/stripe";
import type { ConnectorContext, WebhookInput } from "../connector";
import type { ConnectorHarness } from "../contract";
import { stripeConnector } from "./index";
import { attemptIdKey } from "./mapping";
import { loopbackTransport } from "@onerouter/routing/testing";

// Wiring for this folder's tests: the Stripe emulator on a free port and the
// connector pointed at it through the real SDK.

export const testSecretKey = "sk_test_onerouter_emulated_account";
export const testWebhookSecret = "whsec_onerouter_emulated_endpoint";

export interface StripeTestBed extends ConnectorHarness {
  stripe: StripeEmulator;
  running: RunningEmulator;
}

export async function startStripeTestBed(options: Partial<StripeEmulatorOptions> = {}): Promise<StripeTestBed> {
  const stripe = stripeEmulator({ secretKey: testSecretKey, webhookSecret: testWebhookSecret, ...options });
  const running = await startEmulator(stripe);
  const ctx: ConnectorContext = {
    credentials: { secret_key: testSecretKey, webhook_secret: testWebhookSecret },
    settings: { base_url: running.url },
    timeoutMs: 5_000,
    transport: loopbackTransport(),
  };
  function webhook(paymentIntentId: string, signedAt?: number): WebhookInput {
    const { payload, signature } = stripe.signedPaymentIntentEvent(paymentIntentId, { ...(signedAt && { signedAt }) });
    return {
      rawBody: Buffer.from(payload),
      headers: { "content-type": "application/json", "stripe-signature": signature },
      url: "https://onerouter.test/webhooks/stripe/acct_test",
    };
  }
  return {
    stripe,
    running,
    connector: stripeConnector,
    serverErrorKind: "ambiguous",
    ctx,
    badCredentialsCtx: { ...ctx, credentials: { ...ctx.credentials, secret_key: "sk_test_not_this_account" } },
    emulator: running,
    tokens: { succeed: "pm_card_visa", decline: "pm_card_chargeDeclined", declineCode: "generic_decline" },
    currencies: ["USD", "INR", "JPY", "KWD"],
    async providerAmount(providerPaymentId) {
      const amount = stripe.paymentIntentAmount(providerPaymentId);
      if (amount === undefined) throw new Error(`the emulator has no ${providerPaymentId}`);
      return amount;
    },
    async chargeCount(attemptId) {
      return stripe.account
        .paymentIntentsWithMetadata(attemptIdKey, attemptId)
        .flatMap((intent) => stripe.account.chargesOf(intent.id))
        .filter((charge) => charge.status === "succeeded").length;
    },
    async signedWebhook(providerPaymentId) {
      return webhook(providerPaymentId);
    },
    async staleWebhook(providerPaymentId) {
      return webhook(providerPaymentId, Math.floor(Date.now() / 1000) - 3600);
    },
    close: () => running.close(),
  };
}
