import http from "node:http";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { RoutingProfileSchema, RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import type { Config, Logger } from "@onerouter/core";
import { startEmulator, type FailureSettings, type RunningEmulator } from "@onerouter/emulators/harness";
import { paypalEmulator } from "@onerouter/emulators/paypal/index";
import { razorpayEmulator } from "@onerouter/emulators/razorpay/index";
import { stripeEmulator } from "@onerouter/emulators/stripe/index";
import { startOneRouter, type OneRouter } from "./app";

// `onerouter dev`: the product wired to local emulators of Stripe, Razorpay
// and PayPal, so a newcomer can take payments through each provider, receive
// their signed webhooks and watch a failover, with no provider accounts.

// Credentials of the emulated provider accounts; they mean nothing elsewhere.
const emulated = {
  stripe: { secret_key: "sk_test_onerouter_dev", webhook_secret: "whsec_onerouter_dev" },
  razorpay: { key_id: "rzp_test_onerouterdev", key_secret: "onerouter_dev_secret", webhook_secret: "onerouter_dev_webhook" },
  paypal: { client_id: "onerouter_dev_client", client_secret: "onerouter_dev_secret", webhook_id: "WH-ONEROUTER-DEV" },
} as const;

type EmulatedProvider = keyof typeof emulated;

// Settings dev mode changes before the config is read: it delivers your
// webhooks to endpoints on this machine.
export const devConfigDefaults: Record<string, string> = {
  ONEROUTER_WEBHOOK_ALLOWED_CIDRS: "127.0.0.0/8,::1/128",
};
const providers = Object.keys(emulated) as EmulatedProvider[];

export interface DevOptions {
  // First of four consecutive loopback ports: the control server, then the
  // Stripe, Razorpay and PayPal emulators. 0 picks free ports.
  basePort: number;
}

export interface DevEnvironment {
  app: OneRouter;
  emulators: Record<EmulatedProvider, RunningEmulator>;
  accountIds: Record<EmulatedProvider, string>;
  controlUrl: string;
  close(): Promise<void>;
}

export async function startDev(config: Config, logger: Logger, options: DevOptions): Promise<DevEnvironment> {
  const app = await startOneRouter(config, logger);
  const port = (offset: number) => (options.basePort === 0 ? 0 : options.basePort + offset);
  const scope = { tenantId: app.defaultTenantId, environment: "test" as const };
  const loopback = `http://127.0.0.1:${app.server.port}`;

  // Accounts first: their ids are part of the webhook URLs the emulators post to.
  const accountIds = {} as Record<EmulatedProvider, string>;
  const existing = (await app.accounts.query(scope).where({ category: "payments" })) as { id: string; provider: string; display_name: string }[];
  for (const provider of providers) {
    const displayName = `${provider} (dev emulator)`;
    const found = existing.find((a) => a.provider === provider && a.display_name === displayName);
    accountIds[provider] =
      found?.id ??
      (
        await app.accounts.create({
          ...scope,
          provider,
          category: "payments",
          displayName,
          credentials: { ...emulated[provider] },
          settings: {},
          enabled: true,
        })
      ).id;
  }
  const webhookUrl = (provider: EmulatedProvider) => `${loopback}/webhooks/inbound/${provider}/${accountIds[provider]}`;

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
    await app.accounts.update(scope, accountIds[provider], { settings: { base_url: emulators[provider].url } });
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

  const control = await startControlServer(emulators, port(0));
  return {
    app,
    emulators,
    accountIds,
    controlUrl: control.url,
    async close() {
      await control.close();
      await app.close();
      for (const provider of providers) await emulators[provider].close();
    },
  };
}

// POST /emulators/<provider>/failure {"mode": "down" | "none" | ...} breaks or
// restores an emulator; it lives apart from the emulators so a "down" one can
// be brought back.
async function startControlServer(emulators: Record<EmulatedProvider, RunningEmulator>, port: number) {
  const server = http.createServer((req, res) => {
    const match = /^\/emulators\/(\w+)\/failure$/.exec(req.url ?? "");
    const emulator = match ? emulators[match[1] as EmulatedProvider] : undefined;
    if (req.method !== "POST" || !emulator) {
      res.writeHead(404, { "content-type": "application/json" });
      return void res.end(JSON.stringify({ error: "POST /emulators/<stripe|razorpay|paypal>/failure" }));
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let settings: FailureSettings;
      try {
        settings = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as FailureSettings;
      } catch {
        res.writeHead(400, { "content-type": "application/json" });
        return void res.end(JSON.stringify({ error: "body must be JSON like {\"mode\":\"down\"}" }));
      }
      emulator.setFailure(settings).then(
        () => {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify({ mode: settings.mode }));
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
    ...providers.map((p) => `  ${p.padEnd(9)} ${dev.emulators[p].url}   account ${dev.accountIds[p]}`),
    "",
    "Get a key:            npx onerouter keys create --env test",
    `Pay (USD via Stripe): curl -s ${api}/onerouter.payments.v1.PaymentService/CreatePayment -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \\`,
    `                        -d '{"amount":"2500","currency":"USD","paymentMethod":{"providerTokens":{"stripe":"pm_card_visa","razorpay":"tok_success","sandbox":"tok_sandbox_success"}}}'`,
    `Stop Stripe:          curl -s -X POST ${dev.controlUrl}/emulators/stripe/failure -d '{"mode":"down"}'   (then pay again: Razorpay serves it)`,
    `Bring it back:        curl -s -X POST ${dev.controlUrl}/emulators/stripe/failure -d '{"mode":"none"}'`,
  ];
  return lines.join("\n");
}
