import { startEmulator, type RunningEmulator } from "@onerouter/sandbox";
import { vonageEmulator, type VonageEmulator, type VonageEmulatorOptions } from "@onerouter/emulators/vonage";
import type { ConnectorContext } from "@onerouter/routing";
import type { SmsConnector } from "../connector";
import { type MessagingHarness, withStatusCallbacks } from "../contract";
import { vonageConnector } from "./index";
import { loopbackTransport } from "@onerouter/routing/testing";

// Wiring for this folder's tests: the Vonage emulator on a free port and the
// connector pointed at it through the real SDK.

export const testApiKey = "a1b2c3d4";
export const testApiSecret = "OneRouterSecret1";
export const testSignatureSecret = "onerouter_emulated_signature_secret";

// Where the engine would have Vonage send a message's receipts: a URL naming the attempt.
export function receiptUrl(attemptId: string, base = "http://127.0.0.1:1/callbacks/vonage"): string {
  const url = new URL(base);
  url.searchParams.set("attempt", attemptId);
  return url.toString();
}

export interface VonageTestBed extends MessagingHarness {
  connector: SmsConnector;
  vonage: VonageEmulator;
  running: RunningEmulator;
}

export async function startVonageTestBed(options: Partial<VonageEmulatorOptions> = {}): Promise<VonageTestBed> {
  const account: VonageEmulatorOptions = {
    apiKey: testApiKey,
    apiSecret: testApiSecret,
    signatureSecret: testSignatureSecret,
    signatureMethod: "sha256hmac",
    ...options,
  };
  const vonage = vonageEmulator(account);
  const running = await startEmulator(vonage);
  const ctx: ConnectorContext = {
    credentials: { api_key: testApiKey, api_secret: testApiSecret, signature_secret: testSignatureSecret },
    settings: { base_url: running.url, default_from: "OneRouter", signature_method: account.signatureMethod },
    timeoutMs: 5_000,
    transport: loopbackTransport(),
  };
  return {
    vonage,
    running,
    connector: withStatusCallbacks(vonageConnector, receiptUrl),
    ctx,
    badCredentialsCtx: {
      ...ctx,
      credentials: { api_key: testApiKey, api_secret: "NotTheSecret123", signature_secret: "not_the_signature_secret" },
    },
    emulator: running,
    // Too short to be a phone number: Vonage answers status 3, invalid parameters.
    rejectedDestination: { to: "+1555", providerCode: "3" },
    async sentCount(attemptId) {
      return vonage.messagesWithClientRef(attemptId).length;
    },
    async deliveryCallback(providerMessageId, status) {
      // err-code 3 is "Absent Subscriber - Permanent".
      const options = status === "failed" ? { errCode: "3" } : {};
      const receipt = await vonage.deliveryReceipt(providerMessageId, status, options);
      return { rawBody: Buffer.from(receipt.body), headers: receipt.headers, url: receipt.url };
    },
    close: () => running.close(),
  };
}
