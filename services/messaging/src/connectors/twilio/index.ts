import { ConnectorError, webhookSecret } from "@onerouter/routing";
import type { SmsConnector } from "../connector";
import { messageStatus } from "./mapping";
import { parseTwilioCallback, verifyTwilioCallback } from "./webhook";
import { callTwilio, expectSid } from "./client";

// A Messaging Service SID as sender lets Twilio pick the number from its pool.
const messagingServiceSid = /^MG[0-9a-f]{32}$/i;

export const twilioConnector: SmsConnector = {
  name: "twilio",
  channel: "sms",
  credentialKeys: ["account_sid", "auth_token"],

  async testCredentials(ctx) {
    expectSid(await callTwilio(ctx, (client) => client.api.v2010.accounts(ctx.credentials.account_sid as string).fetch()), "an account");
  },

  async send(ctx, input) {
    const sender = input.from || ctx.settings.default_from;
    if (!sender) {
      const message = "No sender: the message has no from and the account no default_from";
      throw new ConnectorError("invalid_request", "twilio", message, { reason: "SENDER_REQUIRED" });
    }
    const message = expectSid(
      await callTwilio(ctx, (client) =>
        client.messages.create({
          to: input.to,
          body: input.body,
          ...(messagingServiceSid.test(sender) ? { messagingServiceSid: sender } : { from: sender }),
          ...(input.statusCallbackUrl && { statusCallback: input.statusCallbackUrl }),
        }),
      ),
      "a message",
    );
    // Twilio created the message (201), so it took it whatever the status says.
    const status = messageStatus(message.status) ?? "queued";
    const failed = status === "failed" || status === "undelivered";
    return {
      providerMessageId: message.sid,
      status,
      ...(failed && {
        failure: {
          reason: "PROVIDER_REJECTED",
          message: message.errorMessage ?? `Twilio reports the message ${message.status}`,
          ...(message.errorCode !== null && { providerCode: String(message.errorCode) }),
        },
      }),
    };
  },

  async parseCallback(ctx, input) {
    const authToken = webhookSecret(ctx, "twilio", "Twilio", "auth_token");
    return parseTwilioCallback(input.url, verifyTwilioCallback(input, authToken));
  },
};
