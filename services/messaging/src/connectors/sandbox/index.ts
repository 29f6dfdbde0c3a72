import {
  callSandbox,
  sandboxProviders,
  sandboxWebhookRejected,
  verifySandboxSignature,
  type SandboxCall,
} from "@onerouter/sandbox";
import { ConnectorError, type ConnectorContext, type ProviderFailure, type WebhookInput } from "@onerouter/routing";
import type { EmailAddress, EmailConnector, MessageStatusEvent, ProviderMessageStatus, SendResult, SmsConnector } from "../connector";

// The built-in sandbox as an SMS provider and as an email provider, so a
// test environment sends messages with no provider account and can simulate
// outages per account. The same sandbox server serves both (and payments);
// see README.md for the settings and test destinations.

export const sandboxSmsProvider = sandboxProviders.sms;
export const sandboxEmailProvider = sandboxProviders.email;

// The sandbox's wire shape of a message.
interface SandboxMessage {
  id: string;
  attempt_id: string | null;
  status: string;
  failure: { code: string; message: string } | null;
}

interface SandboxEvent {
  id: string;
  type: string;
  data: { object: unknown };
}

// The sandbox names its statuses after OneRouter's.
const statuses: Record<string, ProviderMessageStatus> = {
  queued: "queued",
  sent: "sent",
  delivered: "delivered",
  failed: "failed",
  undelivered: "undelivered",
};

function status(provider: string, message: SandboxMessage): ProviderMessageStatus {
  const mapped = statuses[message.status];
  if (!mapped) {
    // An answer this connector does not know; the message may have been taken.
    throw new ConnectorError("ambiguous", provider, `the sandbox answered with an unknown message status ${message.status}`, {
      reason: "PROVIDER_INVALID_RESPONSE",
    });
  }
  return mapped;
}

function failure(message: SandboxMessage): ProviderFailure | undefined {
  return message.failure
    ? { reason: "MESSAGE_UNDELIVERED", message: message.failure.message, providerCode: message.failure.code }
    : undefined;
}

async function send(provider: string, ctx: ConnectorContext, attemptId: string, body: Record<string, unknown>): Promise<SendResult> {
  const call: SandboxCall = { method: "POST", path: "/v1/messages", idempotencyKey: attemptId, body: { ...body, attempt_id: attemptId } };
  const message = await callSandbox<SandboxMessage>(provider, ctx, call);
  const problem = failure(message);
  return { providerMessageId: message.id, status: status(provider, message), ...(problem && { failure: problem }) };
}

async function parseCallback(provider: string, ctx: ConnectorContext, input: WebhookInput): Promise<MessageStatusEvent[]> {
  verifySandboxSignature(provider, ctx.credentials.api_key ?? "", input);
  let event: SandboxEvent;
  try {
    event = JSON.parse(input.rawBody.toString("utf8")) as SandboxEvent;
  } catch {
    throw sandboxWebhookRejected(provider, "the callback body is not JSON");
  }
  if (typeof event?.id !== "string" || typeof event.type !== "string" || typeof event.data?.object !== "object") {
    throw sandboxWebhookRejected(provider, "the callback body is not a sandbox event");
  }
  if (!event.type.startsWith("message.")) return [];
  const message = event.data.object as SandboxMessage;
  const problem = failure(message);
  return [
    {
      providerEventId: event.id,
      providerMessageId: message.id,
      ...(message.attempt_id && { attemptId: message.attempt_id }),
      status: status(provider, message),
      ...(problem && { failure: problem }),
    },
  ];
}

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
    return send(sandboxSmsProvider, ctx, input.attemptId, {
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
    return send(sandboxEmailProvider, ctx, input.attemptId, {
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
