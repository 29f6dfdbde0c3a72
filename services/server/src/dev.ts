import http from "node:http";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { RoutingProfileSchema, RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import type { Config, Logger } from "@onerouter/core";
import { sandboxApprovedToken, sandboxProviders, startEmulator, type FailureSettings, type RunningEmulator } from "@onerouter/sandbox";
import { devProfiles, UnknownEmulatedObject, type DevEmulator, type DevProfile } from "@onerouter/emulators";
import { startOneRouter, type OneRouter } from "./app";

// `onerouter dev`: the product wired to local emulators of the providers in
// the emulators' dev profiles, so a newcomer can take payments and send
// messages through each provider, receive their signed webhooks and
// callbacks, and watch a failover, with no provider accounts.

// Settings dev mode changes before the config is read: it delivers your
// webhooks to endpoints on this machine, and calls providers' emulators on it
// (their origins are allowed as base URLs once they listen).
export const devConfigDefaults: Record<string, string> = {
  ONEROUTER_WEBHOOK_ALLOWED_CIDRS: "127.0.0.0/8,::1/128",
  ONEROUTER_PROVIDER_ALLOWED_CIDRS: "127.0.0.0/8,::1/128",
};

export interface DevOptions {
  // First of consecutive loopback ports: the control server, then one per
  // emulator in the order of the dev profiles. 0 picks free ports.
  basePort: number;
}

export interface DevEnvironment {
  app: OneRouter;
  // By provider name.
  emulators: Record<string, RunningEmulator>;
  accountIds: Record<string, string>;
  controlUrl: string;
  close(): Promise<void>;
}

export async function startDev(config: Config, logger: Logger, options: DevOptions): Promise<DevEnvironment> {
  const app = await startOneRouter(config, logger);
  const port = (offset: number) => (options.basePort === 0 ? 0 : options.basePort + offset);
  const scope = { tenantId: app.defaultTenantId, environment: "test" as const };
  const loopback = `http://127.0.0.1:${app.server.port}`;

  // Accounts first: their ids are part of the webhook URLs the emulators post to.
  const accountIds: Record<string, string> = {};
  const existing = (await app.accounts.query(scope)) as { id: string; provider: string; display_name: string }[];
  for (const { provider, category, credentials } of devProfiles) {
    const displayName = `${provider} (dev emulator)`;
    const found = existing.find((a) => a.provider === provider && a.display_name === displayName);
    accountIds[provider] =
      found?.id ??
      (await app.accounts.create({ ...scope, provider, category, displayName, credentials: { ...credentials }, settings: {}, enabled: true }))
        .id;
  }
  const accountId = (provider: string) => accountIds[provider] as string;

  const emulated = new Map<string, DevEmulator>();
  const running: Record<string, RunningEmulator> = {};
  for (const [offset, profile] of devProfiles.entries()) {
    const emulator = profile.emulate(`${loopback}/webhooks/inbound/${profile.provider}/${accountId(profile.provider)}`);
    emulated.set(profile.provider, emulator);
    const started = await startEmulator(emulator.emulator, { port: port(1 + offset) });
    running[profile.provider] = started;
    app.providerOutbound.allowBaseUrls(started.url);
    await app.accounts.update(scope, accountId(profile.provider), {
      settings: { base_url: started.url, ...profile.settings },
      ...(emulator.credentials && { credentials: emulator.credentials }),
    });
  }

  // Dev routing for payments: the default targets in profile order, with a
  // rule per preferred currency putting its provider before the primary; the
  // sandbox is last everywhere, so failover shows.
  const sandboxId = ((await app.accounts.query(scope).where({ category: "payments", provider: sandboxProviders.payments }).first()) as { id: string }).id;
  const targets = (...ids: string[]) => ids.map((providerAccountId) => ({ providerAccountId }));
  const defaultTargets = paymentProfiles().filter((p) => p.payments.routedByDefault);
  const primary = defaultTargets[0]!;
  await app.routing.put(
    { ...scope, category: "payments" },
    create(RoutingProfileSchema, {
      strategy: RoutingStrategy.PRIORITY,
      targets: targets(...defaultTargets.map((p) => accountId(p.provider)), sandboxId),
      rules: paymentProfiles().flatMap(({ provider, payments: { preferredFor } }) =>
        preferredFor
          ? [
              {
                name: preferredFor.rule,
                condition: { currencies: preferredFor.currencies },
                strategy: RoutingStrategy.PRIORITY,
                targets: targets(accountId(provider), accountId(primary.provider), sandboxId),
              },
            ]
          : [],
      ),
    }),
  );

  // Messages: the cheapest provider for the destination, among the emulated
  // ones (the built-in sandbox would undercut them all).
  await app.routing.put(
    { ...scope, category: "messaging" },
    create(RoutingProfileSchema, {
      strategy: RoutingStrategy.CHEAPEST,
      targets: targets(...devProfiles.filter((p) => p.category === "messaging").map((p) => accountId(p.provider))),
    }),
  );

  // A delivery report without an id is for the provider's newest message in
  // the default tenant's test environment: what the banner's SMS just sent.
  const newestMessage = async (provider: string) => {
    const { messages } = await app.messaging.listMessages(scope, { provider }, { pageSize: 1, pageToken: "" });
    return messages[0]?.providerMessageId;
  };
  const control = await startControlServer(running, emulated, newestMessage, port(0));
  return {
    app,
    emulators: running,
    accountIds,
    controlUrl: control.url,
    async close() {
      await control.close();
      await app.close();
      for (const emulator of Object.values(running)) await emulator.close();
    },
  };
}

type PaymentProfile = DevProfile & { payments: NonNullable<DevProfile["payments"]> };

function paymentProfiles(): PaymentProfile[] {
  return devProfiles.filter((p): p is PaymentProfile => p.category === "payments" && p.payments !== undefined);
}

// POST /emulators/<provider>/failure {"mode": "down" | "none" | ...} breaks or
// restores an emulator; it lives apart from the emulators so a "down" one can
// be brought back. POST /emulators/<provider>/deliver {"id": "<provider
// message id>", "delivered": true} reports a message's delivery; without an
// id, the newest message sent through that provider's.
async function startControlServer(
  emulators: Record<string, RunningEmulator>,
  emulated: Map<string, DevEmulator>,
  newestMessage: (provider: string) => Promise<string | undefined>,
  port: number,
) {
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
      const provider = match[1]!;
      const action =
        match[2] === "deliver"
          ? (async () => reportDelivery(emulated.get(provider), provider, body.id ?? (await newestMessage(provider)), body.delivered ?? true))()
          : emulator.setFailure(body);
      action.then(
        () => {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify({ ok: true }));
        },
        (err: unknown) => {
          res.writeHead(err instanceof UnknownEmulatedObject ? 404 : 500, { "content-type": "application/json" });
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

// Reports a message's delivery as the provider's carrier would: the provider
// sends its signed callback to OneRouter.
async function reportDelivery(emulator: DevEmulator | undefined, provider: string, id: string | undefined, delivered: boolean) {
  if (!emulator?.reportDelivery) throw new Error(`${provider} does not deliver messages`);
  if (id === undefined) throw new UnknownEmulatedObject(`${provider} has sent no message yet`);
  return emulator.reportDelivery(id, delivered);
}

// What to try, as commands that run as printed (shell comments say what each does).
export function devBanner(dev: DevEnvironment): string {
  const api = dev.app.server.url;
  const [primary, failover] = paymentProfiles().filter((p) => p.payments.routedByDefault);
  const messaging = devProfiles.find((p) => p.category === "messaging");
  const providerTokens = Object.fromEntries([
    ...paymentProfiles().map((p) => [p.provider, p.payments.approvedToken]),
    [sandboxProviders.payments, sandboxApprovedToken],
  ]);
  const call = (service: string, body: object) =>
    `curl -s ${api}/${service} -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \\\n  -d '${JSON.stringify(body)}'`;
  const lines = [
    `OneRouter dev is running on ${api}, with provider emulators:`,
    ...devProfiles.map(({ provider: p }) => `  ${p.padEnd(9)} ${dev.emulators[p]!.url}   account ${dev.accountIds[p]}`),
    "",
    "# Get a test API key into $KEY:",
    "export KEY=$(npx onerouter keys create --env test | tail -n 1)",
    `# Pay in USD (${primary!.title} first; a token per provider lets the payment move between them):`,
    call("onerouter.payments.v1.PaymentService/CreatePayment", { amount: "2500", currency: "USD", paymentMethod: { providerTokens } }),
    `# Stop ${primary!.title}'s emulator, then pay again: ${failover!.title} serves it`,
    `curl -s -X POST ${dev.controlUrl}/emulators/${primary!.provider}/failure -d '{"mode":"down"}'`,
    "# Bring it back:",
    `curl -s -X POST ${dev.controlUrl}/emulators/${primary!.provider}/failure -d '{"mode":"none"}'`,
    "# Send an SMS (each country goes to the cheapest emulated provider):",
    call("onerouter.messaging.v1.MessagingService/SendMessage", { sms: { to: "+14155550100", body: "Hello" } }),
    `# Report it delivered (${messaging!.title} then sends its signed callback; -d '{"id":"<providerMessageId>"}' picks another message):`,
    `curl -s -X POST ${dev.controlUrl}/emulators/${messaging!.provider}/deliver`,
  ];
  return lines.join("\n");
}
