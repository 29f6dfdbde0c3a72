import { startEmulator, type RunningEmulator } from "@onerouter/sandbox";
import { twilioEmulator, type TwilioEmulator } from "@onerouter/emulators/twilio/index";
import type { ConnectorContext } from "@onerouter/routing";
import { callbackAttemptParam, type SmsConnector } from "../connector";
import { type MessagingHarness, withStatusCallbacks } from "../contract";
import { twilioConnector } from "./index";
import { loopbackTransport } from "@onerouter/routing/testing";

// Wiring for this folder's tests: the Twilio emulator on a free port and the
// connector pointed at it through the real SDK.

export const testAccountSid = "AC0123456789abcdef0123456789abcdef";
export const testAuthToken = "0123456789abcdef0123456789abcdef";

// Where the engine would have Twilio send a message's status: a URL naming the attempt.
export function statusCallbackUrl(attemptId: string, base = "http://127.0.0.1:1/callbacks/twilio"): string {
  const url = new URL(base);
  url.searchParams.set(callbackAttemptParam, attemptId);
  return url.toString();
}

export interface TwilioTestBed extends MessagingHarness {
  connector: SmsConnector;
  twilio: TwilioEmulator;
  running: RunningEmulator;
}

export async function startTwilioTestBed(): Promise<TwilioTestBed> {
  const twilio = twilioEmulator({ accountSid: testAccountSid, authToken: testAuthToken });
  const running = await startEmulator(twilio);
  const ctx: ConnectorContext = {
    credentials: { account_sid: testAccountSid, auth_token: testAuthToken },
    settings: { base_url: running.url, default_from: "+14155550199" },
    timeoutMs: 5_000,
    transport: loopbackTransport(),
  };
  return {
    twilio,
    running,
    connector: withStatusCallbacks(twilioConnector, statusCallbackUrl),
    ctx,
    badCredentialsCtx: { ...ctx, credentials: { ...ctx.credentials, auth_token: "ffffffffffffffffffffffffffffffff" } },
    emulator: running,
    rejectedDestination: { to: "+15005550001", providerCode: "21211" },
    async sentCount(attemptId) {
      return twilio.messagesForAttempt(attemptId).length;
    },
    async deliveryCallback(providerMessageId, status) {
      // A carrier that cannot deliver makes Twilio report "undelivered".
      const reported = status === "delivered" ? "delivered" : "undelivered";
      const callback = await twilio.reportStatus(providerMessageId, reported);
      return { rawBody: Buffer.from(callback.body), headers: callback.headers, url: callback.url };
    },
    close: () => running.close(),
  };
}
