import http from "node:http";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { RoutingProfileSchema, RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import type { Config, Logger } from "@onerouter/core";
import { startEmulator, type FailureSettings, type RunningEmulator } from "@onerouter/sandbox";
import { paypalEmulator } from "@onerouter/emulators/paypal";
import { razorpayEmulator } from "@onerouter/emulators/razorpay";
import { mailgunEmulator, type MailgunEmulator } from "@onerouter/emulators/mailgun";
import { sendgridEmulator, type SendGridEmulator } from "@onerouter/emulators/sendgrid";
import { stripeEmulator } from "@onerouter/emulators/stripe";
import { twilioEmulator, type TwilioEmulator } from "@onerouter/emulators/twilio";
import { vonageEmulator, type VonageEmulator } from "@onerouter/emulators/vonage";
import { startOneRouter, type OneRouter } from "./app";

// `onerouter dev`: the product wired to local emulators of Stripe, Razorpay,
// PayPal, Twilio, Vonage, SendGrid and Mailgun, so a newcomer can take
// payments and send messages through each provider, receive their signed
// webhooks and callbacks, and watch a failover, with no provider accounts.

// Credentials of the emulated provider accounts; they mean nothing elsewhere.
const emulated = {
  stripe: { secret_key: "sk_test_onerouter_dev", webhook_secret: "whsec_onerouter_dev" },
  razorpay: { key_id: "rzp_test_onerouterdev", key_secret: "onerouter_dev_secret", webhook_secret: "onerouter_dev_webhook" },
  paypal: { client_id: "onerouter_dev_client", client_secret: "onerouter_dev_secret", webhook_id: "WH-ONEROUTER-DEV" },
} as const;

const emulatedMessaging = {
  twilio: { account_sid: "AC0000000000000000000000000000dev0", auth_token: "onerouter_dev_auth_token" },
  vonage: { api_key: "onerouterdev", api_secret: "onerouter_dev_secret", signature_secret: "onerouter_dev_signature" },
  // The event webhook's public key is the emulator's, made at each start.
  sendgrid: { api_key: "SG.onerouter_dev.key" },
  mailgun: { api_key: "onerouter-dev-key", domain: "mg.onerouter.dev", webhook_signing_key: "onerouter-dev-signing-key" },
} as const;

type EmulatedProvider = keyof typeof emulated;
type EmulatedMessagingProvider = keyof typeof emulatedMessaging;
const providers = Object.keys(emulated) as EmulatedProvider[];
const messagingProviders = Object.keys(emulatedMessaging) as EmulatedMessagingProvider[];

export interface MessagingEmulators {
  twilio: TwilioEmulator;
  vonage: VonageEmulator;
  sendgrid: SendGridEmulator;
  mailgun: MailgunEmulator;
}

// Settings dev mode changes before the config is read: it delivers your
// webhooks to endpoints on this machine, and calls providers' emulators on it
// (their origins are allowed as base URLs once they listen).
export const devConfigDefaults: Record<string, string> = {
  ONEROUTER_WEBHOOK_ALLOWED_CIDRS: "127.0.0.0/8,::1/128",
  ONEROUTER_PROVIDER_ALLOWED_CIDRS: "127.0.0.0/8,::1/128",
};

export interface DevOptions {
  // First of eight consecutive loopback ports: the control server, then the
  // Stripe, Razorpay, PayPal, Twilio, Vonage, SendGrid and Mailgun emulators.
  // 0 picks free ports.
  basePort: number;
}

export interface DevEnvironment {
  app: OneRouter;
  emulators: Record<EmulatedProvider | EmulatedMessagingProvider, RunningEmulator>;
  accountIds: Record<EmulatedProvider | EmulatedMessagingProvider, string>;
  controlUrl: string;
  close(): Promise<void>;
}

export async function startDev(config: Config, logger: Logger, options: DevOptions): Promise<DevEnvironment> {
  const app = await startOneRouter(config, logger);
  const port = (offset: number) => (options.basePort === 0 ? 0 : options.basePort + offset);
  const scope = { tenantId: app.defaultTenantId, environment: "test" as const };
  const loopback = `http://127.0.0.1:${app.server.port}`;

  // Accounts first: their ids are part of the webhook URLs the emulators post to.
  const accountIds = {} as Record<EmulatedProvider | EmulatedMessagingProvider, string>;
  const existing = (await app.accounts.query(scope)) as { id: string; provider: string; display_name: string }[];
  const ensureAccount = async (
    provider: EmulatedProvider | EmulatedMessagingProvider,
    category: "payments" | "messaging",
    credentials: Record<string, string>,
  ) => {
    const displayName = `${provider} (dev emulator)`;
    const found = existing.find((a) => a.provider === provider && a.display_name === displayName);
    accountIds[provider] =
      found?.id ??
      (await app.accounts.create({ ...scope, provider, category, displayName, credentials, settings: {}, enabled: true })).id;
  };
  for (const provider of providers) await ensureAccount(provider, "payments", { ...emulated[provider] });
  for (const provider of messagingProviders) {
    // SendGrid's public key exists once its emulator does; a placeholder until then.
    const placeholder: Record<string, string> = provider === "sendgrid" ? { event_webhook_public_key: "pending" } : {};
    await ensureAccount(provider, "messaging", { ...placeholder, ...emulatedMessaging[provider] });
  }
  const webhookUrl = (provider: EmulatedProvider | EmulatedMessagingProvider) =>
    `${loopback}/webhooks/inbound/${provider}/${accountIds[provider]}`;

  const emulators: Record<EmulatedProvider, RunningEmulator> = {
    stripe: await startEmulator(
      stripeEmulator({
        secretKey: emulated.stripe.secret_key,
        webhookSecret: emulated.stripe.webhook_secret,
        webhookUrl: webhookUrl("stripe"),
      }),
      { port: port(1) },
    ),
    razorpay: await startEmulator(
      razorpayEmulator({
        keyId: emulated.razorpay.key_id,
        keySecret: emulated.razorpay.key_secret,
        webhookSecret: emulated.razorpay.webhook_secret,
        webhookUrl: webhookUrl("razorpay"),
      }),
      { port: port(2) },
    ),
    paypal: await startEmulator(
      paypalEmulator({
        clientId: emulated.paypal.client_id,
        clientSecret: emulated.paypal.client_secret,
        webhook: { url: webhookUrl("paypal"), webhookId: emulated.paypal.webhook_id },
      }),
      { port: port(3) },
    ),
  };
  for (const provider of providers) {
    app.providerOutbound.allowBaseUrls(emulators[provider].url);
    await app.accounts.update(scope, accountIds[provider], { settings: { base_url: emulators[provider].url } });
  }

  const messaging: MessagingEmulators = {
    twilio: twilioEmulator({ accountSid: emulatedMessaging.twilio.account_sid, authToken: emulatedMessaging.twilio.auth_token }),
    vonage: vonageEmulator({
      apiKey: emulatedMessaging.vonage.api_key,
      apiSecret: emulatedMessaging.vonage.api_secret,
      signatureSecret: emulatedMessaging.vonage.signature_secret,
      signatureMethod: "sha256hmac",
      receiptUrl: webhookUrl("vonage"),
    }),
    sendgrid: sendgridEmulator({ apiKey: emulatedMessaging.sendgrid.api_key, eventWebhookUrl: webhookUrl("sendgrid") }),
    mailgun: mailgunEmulator({
      apiKey: emulatedMessaging.mailgun.api_key,
      domain: emulatedMessaging.mailgun.domain,
      webhookSigningKey: emulatedMessaging.mailgun.webhook_signing_key,
      webhookUrl: webhookUrl("mailgun"),
    }),
  };
  const messagingRunning = {} as Record<EmulatedMessagingProvider, RunningEmulator>;
  const smsSettings = { default_from: "OneRouter" };
  for (const [offset, provider] of messagingProviders.entries()) {
    messagingRunning[provider] = await startEmulator(messaging[provider], { port: port(4 + offset) });
    app.providerOutbound.allowBaseUrls(messagingRunning[provider].url);
    const settings = {
      base_url: messagingRunning[provider].url,
      ...(provider === "twilio" ? smsSettings : {}),
      ...(provider === "vonage" ? { ...smsSettings, signature_method: "sha256hmac" } : {}),
    };
    const credentials =
      provider === "sendgrid"
        ? { ...emulatedMessaging.sendgrid, event_webhook_public_key: messaging.sendgrid.eventWebhookPublicKey }
        : undefined;
    await app.accounts.update(scope, accountIds[provider], { settings, ...(credentials && { credentials }) });
  }

  // Dev routing: INR goes to Razorpay and EUR to PayPal first; everything
  // else to Stripe first; the sandbox is last everywhere, so failover shows.
  const sandboxId = ((await app.accounts.query(scope).where({ category: "payments", provider: "sandbox" }).first()) as { id: string }).id;
  const targets = (...ids: string[]) => ids.map((providerAccountId) => ({ providerAccountId }));
  await app.routing.put(
    { ...scope, category: "payments" },
    create(RoutingProfileSchema, {
      strategy: RoutingStrategy.PRIORITY,
      targets: targets(accountIds.stripe, accountIds.razorpay, sandboxId),
      rules: [
        { name: "rupees via Razorpay", condition: { currencies: ["INR"] }, strategy: RoutingStrategy.PRIORITY, targets: targets(accountIds.razorpay, accountIds.stripe, sandboxId) },
        { name: "euros via PayPal", condition: { currencies: ["EUR"] }, strategy: RoutingStrategy.PRIORITY, targets: targets(accountIds.paypal, accountIds.stripe, sandboxId) },
      ],
    }),
  );

  // Messages: the cheapest provider for the destination, among the emulated
  // ones (the built-in sandbox would undercut them all).
  await app.routing.put(
    { ...scope, category: "messaging" },
    create(RoutingProfileSchema, {
      strategy: RoutingStrategy.CHEAPEST,
      targets: targets(...messagingProviders.map((p) => accountIds[p])),
    }),
  );

  const all = { ...emulators, ...messagingRunning };
  const control = await startControlServer(all, messaging, port(0));
  return {
    app,
    emulators: all,
    accountIds,
    controlUrl: control.url,
    async close() {
      await control.close();
      await app.close();
      for (const running of Object.values(all)) await running.close();
    },
  };
}

// Reports a message's delivery as the provider's carrier would: the provider
// sends its signed callback to OneRouter.
async function reportDelivery(messaging: MessagingEmulators, provider: string, id: string, delivered: boolean) {
  switch (provider) {
    case "twilio":
      return messaging.twilio.reportStatus(id, delivered ? "delivered" : "undelivered", {
        deliver: true,
        ...(delivered ? {} : { errorCode: 30003 }),
      });
    case "vonage":
      return messaging.vonage.deliveryReceipt(id, delivered ? "delivered" : "failed", {
        deliver: true,
        ...(delivered ? {} : { errCode: "6" }),
      });
    case "sendgrid":
      return messaging.sendgrid.reportEvents(id, delivered ? "delivered" : "bounce");
    case "mailgun":
      return messaging.mailgun.reportEvent(id, delivered ? "delivered" : "permanent_failure");
    default:
      throw new Error(`${provider} does not deliver messages`);
  }
}

// POST /emulators/<provider>/failure {"mode": "down" | "none" | ...} breaks or
// restores an emulator; it lives apart from the emulators so a "down" one can
// be brought back. POST /emulators/<provider>/deliver {"id": "<provider
// message id>", "delivered": true} reports a message's delivery.
async function startControlServer(emulators: Record<string, RunningEmulator>, messaging: MessagingEmulators, port: number) {
  const server = http.createServer((req, res) => {
    const match = /^\/emulators\/(\w+)\/(failure|deliver)$/.exec(req.url ?? "");
    const emulator = match ? emulators[match[1]!] : undefined;
    if (req.method !== "POST" || !match || !emulator) {
      res.writeHead(404, { "content-type": "application/json" });
      return void res.end(JSON.stringify({ error: "POST /emulators/<provider>/failure or /emulators/<provider>/deliver" }));
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body: FailureSettings & { id?: string; delivered?: boolean };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as typeof body;
      } catch {
        res.writeHead(400, { "content-type": "application/json" });
        return void res.end(JSON.stringify({ error: "body must be JSON like {\"mode\":\"down\"}" }));
      }
      const action =
        match[2] === "deliver"
          ? reportDelivery(messaging, match[1]!, body.id ?? "", body.delivered ?? true)
          : emulator.setFailure(body);
      action.then(
        () => {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify({ ok: true }));
        },
        (err: unknown) => {
          res.writeHead(500, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: String(err) }));
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export function devBanner(dev: DevEnvironment): string {
  const api = dev.app.server.url;
  const lines = [
    `OneRouter dev is running on ${api}, with provider emulators:`,
    ...[...providers, ...messagingProviders].map((p) => `  ${p.padEnd(9)} ${dev.emulators[p].url}   account ${dev.accountIds[p]}`),
    "",
    "Get a key:            npx onerouter keys create --env test",
    `Pay (USD via Stripe): curl -s ${api}/onerouter.payments.v1.PaymentService/CreatePayment -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \\`,
    `                        -d '{"amount":"2500","currency":"USD","paymentMethod":{"providerTokens":{"stripe":"pm_card_visa","razorpay":"tok_success","sandbox":"tok_sandbox_success"}}}'`,
    `Stop Stripe:          curl -s -X POST ${dev.controlUrl}/emulators/stripe/failure -d '{"mode":"down"}'   (then pay again: Razorpay serves it)`,
    `Bring it back:        curl -s -X POST ${dev.controlUrl}/emulators/stripe/failure -d '{"mode":"none"}'`,
    `Send an SMS:          curl -s ${api}/onerouter.messaging.v1.MessagingService/SendMessage -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \\`,
    `                        -d '{"sms":{"to":"+14155550100","body":"Hello"}}'   (US goes to Twilio, +91 to Vonage: the cheaper one)`,
    `Report delivery:      curl -s -X POST ${dev.controlUrl}/emulators/twilio/deliver -d '{"id":"<providerMessageId>"}'`,
  ];
  return lines.join("\n");
}
