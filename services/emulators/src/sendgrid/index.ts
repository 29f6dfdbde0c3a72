import { randomBytes } from "node:crypto";
import { postWebhook, type EmulatorReply, type EmulatorRequest, type ProviderEmulator } from "@onerouter/sandbox";
import {
  buildEvent,
  eventBody,
  generateEventWebhookKeys,
  signEventBody,
  type EventRecipient,
  type SendGridOutcome,
  type SignedSendGridEvents,
} from "./events";
import { readMailRequest, type SendGridFieldError, type SendGridMailRequest } from "./mail";
import { headerValue } from "../http";
import { UnknownEmulatedObject } from "../dev-profile";

export { generateEventWebhookKeys, signatureHeader, signEventBody, timestampHeader } from "./events";
export type { SendGridEvent, SendGridOutcome, SignedSendGridEvents } from "./events";
export type { SendGridMailRequest } from "./mail";

// An in-memory SendGrid: v3 Mail Send (POST /v3/mail/send), the API key's
// scopes (GET /v3/scopes) and the Signed Event Webhook. It speaks SendGrid's
// wire format: bearer API keys, JSON bodies, 202 with X-Message-Id, and
// `{"errors": [{message, field, help}]}` on failure.

export interface SendGridEmulatorOptions {
  // The account's API key (SG....); any other key gets SendGrid's 401.
  apiKey: string;
  // The key's scopes; without "mail.send", Mail Send answers 403.
  scopes?: readonly string[];
  // Verified Sender Identities: addresses, or domains for Domain
  // Authentication. Unset: every sender is verified.
  verifiedSenders?: readonly string[];
  // The Event Webhook's HTTP POST URL; reported events are posted there.
  eventWebhookUrl?: string;
}

export interface SendGridMessage {
  // The X-Message-Id the send answered.
  id: string;
  request: SendGridMailRequest;
  acceptedAt: Date;
}

export interface SendGridEmulator extends ProviderEmulator {
  // The Signed Event Webhook's verification key: base64 of the DER public key.
  readonly eventWebhookPublicKey: string;
  message(id: string): SendGridMessage | undefined;
  // Accepted messages (one per personalization) whose custom_args, message
  // level merged with personalization level, hold name = value.
  countWithCustomArg(name: string, value: string): number;
  // Reports an outcome for every recipient of a sent message: builds the
  // batch, signs it (signedAt in unix seconds, default now) and posts it to
  // the Event Webhook URL when one is configured, once, without retries.
  reportEvents(id: string, outcome: SendGridOutcome, options?: { signedAt?: number }): Promise<SignedSendGridEvents>;
}

// The scopes of a full-access key that this emulator serves.
const fullAccessScopes = ["mail.send"];
// SendGrid's cap on a whole Mail Send request, attachments included.
const maxRequestBytes = 30 * 1024 * 1024;

function errorReply(status: number, errors: SendGridFieldError[], headers?: Record<string, string>): EmulatorReply {
  return { status, body: { errors }, ...(headers && { headers }) };
}

function simpleError(status: number, message: string): EmulatorReply {
  return errorReply(status, [{ field: null, message, help: null }]);
}

// X-Message-Id: 22 base64url characters.
function newMessageId(): string {
  return randomBytes(16).toString("base64url").slice(0, 22);
}

function senderVerified(email: string, verifiedSenders: readonly string[] | undefined): boolean {
  if (!verifiedSenders) return true;
  const address = email.toLowerCase();
  const domain = address.slice(address.lastIndexOf("@") + 1);
  return verifiedSenders.some((sender) => {
    const verified = sender.toLowerCase();
    return verified.includes("@") ? verified === address : verified === domain;
  });
}

export function sendgridEmulator(options: SendGridEmulatorOptions): SendGridEmulator {
  const keys = generateEventWebhookKeys();
  const scopes = options.scopes ?? fullAccessScopes;
  const messages = new Map<string, SendGridMessage>();

  // Any valid key passes without a scope; with one, the key must hold it.
  function authenticate(req: EmulatorRequest, scope?: string): EmulatorReply | undefined {
    const authorization = headerValue(req.headers.authorization);
    if (!authorization) return simpleError(401, "authorization required");
    const match = /^Bearer (.+)$/.exec(authorization);
    if (!match || match[1] !== options.apiKey) {
      return simpleError(401, "The provided authorization grant is invalid, expired, or revoked");
    }
    if (scope && !scopes.includes(scope)) return simpleError(403, "access forbidden");
    return undefined;
  }

  function mailSend(req: EmulatorRequest): EmulatorReply {
    if (req.rawBody.length > maxRequestBytes) return simpleError(413, "Payload Too Large");
    let body: unknown;
    try {
      body = JSON.parse(req.rawBody.toString("utf8"));
    } catch {
      return simpleError(400, "Bad Request");
    }
    const read = readMailRequest(body);
    if ("errors" in read) return errorReply(400, read.errors);
    const { request } = read;
    if (!senderVerified(request.from.email, options.verifiedSenders)) {
      return errorReply(403, [
        {
          message:
            "The from address does not match a verified Sender Identity. Mail cannot be sent until this error is resolved. Visit https://sendgrid.com/docs/for-developers/sending-email/sender-identity/ to see the Sender Identity requirements",
          field: "from",
          help: null,
        },
      ]);
    }
    const id = newMessageId();
    messages.set(id, { id, request, acceptedAt: new Date() });
    return { status: 202, headers: { "x-message-id": id } };
  }

  function handle(req: EmulatorRequest): EmulatorReply {
    if (req.method === "POST" && req.path === "/v3/mail/send") {
      return authenticate(req, "mail.send") ?? mailSend(req);
    }
    if (req.method === "GET" && req.path === "/v3/scopes") {
      return authenticate(req) ?? { status: 200, body: { scopes } };
    }
    return simpleError(404, "resource not found");
  }

  function recipients(message: SendGridMessage): EventRecipient[] {
    let index = 0;
    return message.request.personalizations.flatMap((personalization) =>
      [...personalization.to, ...personalization.cc, ...personalization.bcc].map((address) => ({
        address,
        messageId: message.id,
        index: index++,
        customArgs: { ...message.request.custom_args, ...personalization.custom_args },
      })),
    );
  }

  return {
    name: "sendgrid",
    handle,
    serverError: () => simpleError(500, "internal server error"),
    rateLimited: () =>
      errorReply(429, [{ field: null, message: "too many requests", help: null }], {
        "x-ratelimit-limit": "600",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 1),
      }),
    eventWebhookPublicKey: keys.publicKey,
    message: (id) => messages.get(id),
    countWithCustomArg(name, value) {
      let count = 0;
      for (const message of messages.values()) {
        for (const personalization of message.request.personalizations) {
          if ({ ...message.request.custom_args, ...personalization.custom_args }[name] === value) count += 1;
        }
      }
      return count;
    },
    async reportEvents(id, outcome, reportOptions = {}) {
      const message = messages.get(id);
      if (!message) throw new UnknownEmulatedObject(`SendGrid emulator has no message ${id}`);
      const timestamp = reportOptions.signedAt ?? Math.floor(Date.now() / 1000);
      const events = recipients(message).map((recipient) => buildEvent(recipient, outcome, timestamp));
      const body = eventBody(events);
      const headers = {
        "content-type": "application/json;charset=utf-8",
        "user-agent": "SendGrid Event API",
        ...signEventBody(body, timestamp, keys.privateKey),
      };
      if (options.eventWebhookUrl) {
        // An unreachable endpoint is the receiver's problem, as at SendGrid.
        await postWebhook(options.eventWebhookUrl, body, headers).catch(() => undefined);
      }
      return { events, body, headers };
    },
  };
}
