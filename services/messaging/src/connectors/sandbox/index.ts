import { builtInSandboxSettings, callSandbox, sandboxProviders, type BuiltInSandbox } from "@onerouter/sandbox";
import type { AccountSettings, ConnectorContext, WebhookInput } from "@onerouter/routing";
import type { EmailAddress, EmailConnector, SmsConnector } from "../connector";
import { sendMessage } from "./client";
import { parseCallback } from "./webhook";

// The built-in sandbox as an SMS provider and as an email provider, so a
// test environment sends messages with no provider account and can simulate
// outages per account. The same sandbox server serves both (and payments);
// see README.md for the settings and test destinations.

export const sandboxSmsProvider = sandboxProviders.sms;
export const sandboxEmailProvider = sandboxProviders.email;

const address = ({ email }: EmailAddress) => email;

// What the SMS and the email sandbox share: one account, its check, its callbacks.
function sandboxChannel(provider: string) {
  return {
    name: provider,
    credentialKeys: ["api_key"],
    idempotentSend: true,
    async testCredentials(ctx: ConnectorContext) {
      await callSandbox(provider, ctx, { method: "GET", path: "/v1/account" });
    },
    parseCallback: (ctx: ConnectorContext, input: WebhookInput) => parseCallback(provider, ctx, input),
  };
}

// Sandbox accounts without a base_url use the built-in sandbox.
export function builtInSandboxAccounts(sandbox: BuiltInSandbox | undefined): AccountSettings {
  return (stored) => builtInSandboxSettings(sandbox, stored);
}

export const sandboxSmsConnector: SmsConnector = {
  ...sandboxChannel(sandboxSmsProvider),
  channel: "sms",
  send(ctx, input) {
    return sendMessage(sandboxSmsProvider, ctx, input.attemptId, {
      channel: "sms",
      to: input.to,
      from: input.from || ctx.settings.default_from,
      body: input.body,
      status_callback_url: input.statusCallbackUrl,
    });
  },
};

export const sandboxEmailConnector: EmailConnector = {
  ...sandboxChannel(sandboxEmailProvider),
  channel: "email",
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
};
