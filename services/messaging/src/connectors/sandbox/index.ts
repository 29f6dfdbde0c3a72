import { callSandbox } from "@onerouter/sandbox";
import type { EmailAddress, EmailConnector, SmsConnector } from "../connector";
import { sendMessage } from "./client";
import { parseCallback } from "./webhook";

// The built-in sandbox as an SMS provider and as an email provider, so a
// test environment sends messages with no provider account and can simulate
// outages per account. The same sandbox server serves both (and payments);
// see README.md for the settings and test destinations.

export const sandboxSmsProvider = "sandbox_sms";
export const sandboxEmailProvider = "sandbox_email";

const address = ({ email }: EmailAddress) => email;

export const sandboxSmsConnector: SmsConnector = {
  name: sandboxSmsProvider,
  channel: "sms",
  credentialKeys: ["api_key"],
  idempotentSend: true,
  async testCredentials(ctx) {
    await callSandbox(sandboxSmsProvider, ctx, { method: "GET", path: "/v1/account" });
  },
  send(ctx, input) {
    return sendMessage(sandboxSmsProvider, ctx, input.attemptId, {
      channel: "sms",
      to: input.to,
      from: input.from || ctx.settings.default_from,
      body: input.body,
      status_callback_url: input.statusCallbackUrl,
    });
  },
  parseCallback: (ctx, input) => parseCallback(sandboxSmsProvider, ctx, input),
};

export const sandboxEmailConnector: EmailConnector = {
  name: sandboxEmailProvider,
  channel: "email",
  credentialKeys: ["api_key"],
  idempotentSend: true,
  async testCredentials(ctx) {
    await callSandbox(sandboxEmailProvider, ctx, { method: "GET", path: "/v1/account" });
  },
  send(ctx, input) {
    return sendMessage(sandboxEmailProvider, ctx, input.attemptId, {
      channel: "email",
      from: input.from.email,
      to: input.to.map(address),
      cc: input.cc.map(address),
      bcc: input.bcc.map(address),
      subject: input.subject,
      text: input.text,
      html: input.html,
      status_callback_url: input.statusCallbackUrl,
    });
  },
  parseCallback: (ctx, input) => parseCallback(sandboxEmailProvider, ctx, input),
};
