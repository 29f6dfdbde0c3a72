import { startEmulator, type RunningEmulator } from "@onerouter/sandbox";
import {
  mailgunEmulator,
  type MailgunEmulator,
  type MailgunEmulatorOptions,
  type SignedMailgunWebhook,
} from "@onerouter/emulators/mailgun";
import type { ConnectorContext, WebhookInput } from "@onerouter/routing";
import { memoryWebhookNonces } from "@onerouter/routing/testing";
import type { MessagingHarness } from "../contract";
import { mailgunConnector } from "./index";
import { attemptIdVariable } from "./mapping";
import { loopbackTransport } from "@onerouter/routing/testing";

// Wiring for this folder's tests: the Mailgun emulator on a free port and
// the connector pointed at it through the real SDK.

export const testCredentials = {
  api_key: "key-onerouter0emulated0account00",
  domain: "mg.example.com",
  webhook_signing_key: "onerouter0emulated0signing0key00",
};

export interface MailgunTestBed extends MessagingHarness {
  mailgun: MailgunEmulator;
  running: RunningEmulator;
}

// Tokens the connector tests' webhooks were verified with.
const nonces = memoryWebhookNonces();

export function webhookInput(signed: SignedMailgunWebhook): WebhookInput {
  return {
    rawBody: Buffer.from(signed.body, "utf8"),
    headers: signed.headers,
    url: "https://onerouter.test/webhooks/mailgun/acct_test",
    nonces,
  };
}

export async function startMailgunTestBed(options: Partial<MailgunEmulatorOptions> = {}): Promise<MailgunTestBed> {
  const mailgun = mailgunEmulator({
    apiKey: testCredentials.api_key,
    domain: testCredentials.domain,
    webhookSigningKey: testCredentials.webhook_signing_key,
    ...options,
  });
  const running = await startEmulator(mailgun);
  const ctx: ConnectorContext = { credentials: { ...testCredentials }, settings: { base_url: running.url }, timeoutMs: 5_000, transport: loopbackTransport() };
  return {
    mailgun,
    running,
    connector: mailgunConnector,
    ctx,
    badCredentialsCtx: {
      ...ctx,
      credentials: { ...testCredentials, api_key: "key-not0this0account", webhook_signing_key: "not-the-signing-key" },
    },
    emulator: running,
    // Mailgun accepts a suppressed address and fails it later (code 605);
    // what it refuses outright is an address that is not one.
    rejectedDestination: { to: "buyer.example.com", providerCode: "400" },
    async sentCount(attemptId) {
      return mailgun.countWithVariable(attemptIdVariable, attemptId);
    },
    async deliveryCallback(providerMessageId, status) {
      const outcome = status === "delivered" ? "delivered" : "permanent_failure";
      return webhookInput(await mailgun.reportEvent(providerMessageId, outcome));
    },
    close: () => running.close(),
  };
}
