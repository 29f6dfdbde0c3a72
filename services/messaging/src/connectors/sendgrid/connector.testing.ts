import { generateKeyPairSync } from "node:crypto";
import { startEmulator, type RunningEmulator } from "@onerouter/sandbox";
import {
  sendgridEmulator,
  type SendGridEmulator,
  type SendGridEmulatorOptions,
  type SignedSendGridEvents,
} from "@onerouter/emulators/sendgrid";
import type { ConnectorContext, WebhookInput } from "@onerouter/routing";
import type { MessagingHarness } from "../contract";
import { attemptIdArg } from "./mapping";
import { sendgridConnector } from "./index";
import { loopbackTransport } from "@onerouter/routing/testing";

// Wiring for this folder's tests: the SendGrid emulator on a free port and
// the connector pointed at it through the real SDK.

export const testApiKey = "SG.onerouter_emulated.account_key";

// A P-256 key of some other account, to sign with the wrong key.
export const otherAccountPublicKey = generateKeyPairSync("ec", { namedCurve: "prime256v1" })
  .publicKey.export({ type: "spki", format: "der" })
  .toString("base64");

export interface SendGridTestBed extends MessagingHarness {
  sendgrid: SendGridEmulator;
  running: RunningEmulator;
}

export function webhookInput(signed: SignedSendGridEvents): WebhookInput {
  return {
    rawBody: Buffer.from(signed.body, "utf8"),
    headers: signed.headers,
    url: "https://onerouter.test/webhooks/sendgrid/acct_test",
  };
}

export async function startSendGridTestBed(options: Partial<SendGridEmulatorOptions> = {}): Promise<SendGridTestBed> {
  const sendgrid = sendgridEmulator({ apiKey: testApiKey, ...options });
  const running = await startEmulator(sendgrid);
  const ctx: ConnectorContext = {
    credentials: { api_key: testApiKey, event_webhook_public_key: sendgrid.eventWebhookPublicKey },
    settings: { base_url: running.url },
    timeoutMs: 5_000,
    transport: loopbackTransport(),
  };
  return {
    sendgrid,
    running,
    connector: sendgridConnector,
    ctx,
    badCredentialsCtx: {
      ...ctx,
      credentials: { api_key: "SG.not_this_account.key", event_webhook_public_key: otherAccountPublicKey },
    },
    emulator: running,
    // SendGrid accepts a suppressed address and drops it later; what it
    // refuses outright is an address that is not one.
    rejectedDestination: { to: "buyer.example.com", providerCode: "personalizations.0.to.0.email" },
    async sentCount(attemptId) {
      return sendgrid.countWithCustomArg(attemptIdArg, attemptId);
    },
    async deliveryCallback(providerMessageId, status) {
      return webhookInput(await sendgrid.reportEvents(providerMessageId, status === "delivered" ? "delivered" : "bounce"));
    },
    close: () => running.close(),
  };
}
