// The contract every messaging connector implements: a stateless translator
// between OneRouter and one SMS or email provider. Routing, persistence,
// idempotency and failover belong to the core, as for payments.

import type { ConnectorContext, ProviderFailure, WebhookInput } from "@onerouter/routing";

export type MessageChannel = "sms" | "email";

export interface SendSmsInput {
  // Our attempt id: sent where the provider takes a reference or idempotency
  // key, and in the status-callback URL, so callbacks find the attempt.
  attemptId: string;
  messageId: string;
  // E.164.
  to: string;
  // Sender id or E.164 number; empty uses the account's default sender.
  from?: string;
  body: string;
  // Where the provider should send delivery status for this message, when
  // the provider takes a per-message callback URL.
  statusCallbackUrl?: string;
}

export interface EmailAddress {
  email: string;
  name?: string;
}

export interface SendEmailInput {
  attemptId: string;
  messageId: string;
  from: EmailAddress;
  to: EmailAddress[];
  cc: EmailAddress[];
  bcc: EmailAddress[];
  replyTo?: EmailAddress;
  subject: string;
  text?: string;
  html?: string;
  // As for SMS; most email providers report to an account-wide webhook instead.
  statusCallbackUrl?: string;
}

export type ProviderMessageStatus = "queued" | "sent" | "delivered" | "failed" | "undelivered";

export interface SendResult {
  providerMessageId: string;
  status: ProviderMessageStatus;
  failure?: ProviderFailure;
}

export interface MessageStatusEvent {
  // Deduplication key for the callback; stable across provider retries.
  providerEventId: string;
  providerMessageId: string;
  // Our attempt id when the provider echoes it (callback URL, custom args).
  attemptId?: string;
  status: ProviderMessageStatus;
  failure?: ProviderFailure;
  occurredAt?: Date;
}

// The engine names the attempt in the status-callback URL it gives each
// message under this query parameter; where the provider signs the URL, the
// attempt id is signed too.
export const callbackAttemptParam = "attempt";

interface MessagingConnectorBase {
  readonly name: string;
  readonly credentialKeys: readonly string[];
  // The provider takes a send repeated under the same attempt id as the
  // first one (the attempt id is its idempotency key), so a send cut short
  // by a crash can be made again without a second message. Providers
  // without it are never sent a message twice; their delivery report
  // settles an interrupted send.
  readonly idempotentSend?: boolean;
  // Checks the credentials with a harmless call; throws ConnectorError.
  testCredentials(ctx: ConnectorContext): Promise<void>;
  // Verifies a delivery callback and returns the status changes it carries
  // (some providers batch several). Throws ConnectorError "invalid_signature".
  parseCallback(ctx: ConnectorContext, input: WebhookInput): Promise<MessageStatusEvent[]>;
}

export interface SmsConnector extends MessagingConnectorBase {
  readonly channel: "sms";
  send(ctx: ConnectorContext, input: SendSmsInput): Promise<SendResult>;
}

export interface EmailConnector extends MessagingConnectorBase {
  readonly channel: "email";
  send(ctx: ConnectorContext, input: SendEmailInput): Promise<SendResult>;
}

export type MessagingConnector = SmsConnector | EmailConnector;
