import { generateKeyPairSync, randomInt, sign, type KeyObject } from "node:crypto";
import type { SendGridAddress } from "./mail";

// The Event Webhook: batches of events as a JSON array, signed with the
// account's ECDSA P-256 key (Signed Event Webhook). The signature is
// ECDSA-SHA256 over `<timestamp><raw body>`, DER-encoded and base64'd.

export const signatureHeader = "x-twilio-email-event-webhook-signature";
export const timestampHeader = "x-twilio-email-event-webhook-timestamp";

// What a recipient's message can go through, as the emulator reports it.
export type SendGridOutcome = "processed" | "delivered" | "deferred" | "bounce" | "blocked" | "dropped";

export type SendGridEvent = Record<string, string | number> & {
  email: string;
  timestamp: number;
  event: string;
  sg_event_id: string;
  sg_message_id: string;
};

export interface SignedSendGridEvents {
  events: SendGridEvent[];
  // The exact body SendGrid posts and the headers that sign it.
  body: string;
  headers: Record<string, string>;
}

export interface EventWebhookKeys {
  privateKey: KeyObject;
  // Base64 of the DER SubjectPublicKeyInfo, as the Mail Settings page shows it.
  publicKey: string;
}

export function generateEventWebhookKeys(): EventWebhookKeys {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return { privateKey, publicKey: publicKey.export({ type: "spki", format: "der" }).toString("base64") };
}

export function signEventBody(body: string, timestampSeconds: number, privateKey: KeyObject): Record<string, string> {
  const signature = sign("sha256", Buffer.from(`${timestampSeconds}${body}`, "utf8"), privateKey);
  return { [signatureHeader]: signature.toString("base64"), [timestampHeader]: String(timestampSeconds) };
}

// What the event adds for each outcome; SendGrid's wording for common cases.
const outcomeFields: Record<SendGridOutcome, Record<string, string | number>> = {
  processed: {},
  delivered: { response: "250 2.0.0 OK", tls: 1, ip: "149.72.123.24" },
  deferred: { response: "451 4.7.1 Temporarily deferred, try again later", attempt: "1", tls: 1, ip: "149.72.123.24" },
  bounce: {
    type: "bounce",
    reason: "550 5.1.1 The email account that you tried to reach does not exist.",
    status: "5.1.1",
    bounce_classification: "Invalid Address",
    tls: 1,
    ip: "149.72.123.24",
  },
  blocked: {
    type: "blocked",
    reason: "550 5.7.1 Message rejected due to local policy",
    status: "5.7.1",
    bounce_classification: "Content",
    tls: 1,
    ip: "149.72.123.24",
  },
  dropped: { reason: "Bounced Address", status: "5.0.0" },
};

export interface EventRecipient {
  address: SendGridAddress;
  // The X-Message-Id the send answered.
  messageId: string;
  // Position of the recipient in the send, which SendGrid folds into its ids.
  index: number;
  customArgs: Record<string, string>;
}

export function buildEvent(recipient: EventRecipient, outcome: SendGridOutcome, timestamp: number): SendGridEvent {
  const event = outcome === "blocked" ? "bounce" : outcome;
  const fields: Record<string, string | number> = {
    // Custom args come first: SendGrid's own fields win a name clash.
    ...recipient.customArgs,
    email: recipient.address.email,
    timestamp,
    "smtp-id": `<${recipient.messageId}@ismtpd0001p1iad2.sendgrid.net>`,
    event,
    // Base64url of "<event>-<number>-<X-Message-Id>-<recipient>", as SendGrid's look.
    sg_event_id: Buffer.from(`${event}-${randomInt(1e8)}-${recipient.messageId}-${recipient.index}`).toString("base64url"),
    // X-Message-Id plus the id of the recipient's copy.
    sg_message_id: `${recipient.messageId}.filterdrecv-7bf4b6d8f-q2x7k-1-${timestamp.toString(16).toUpperCase()}-${recipient.index}.0`,
    send_at: 0,
    ...outcomeFields[outcome],
  };
  // SendGrid posts each event's fields in alphabetical order.
  return Object.fromEntries(Object.entries(fields).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) as SendGridEvent;
}

// A JSON array with one event a line, CRLF-separated and CRLF-terminated,
// exactly as SendGrid posts it; the signature covers those bytes.
export function eventBody(events: SendGridEvent[]): string {
  return `[${events.map((event) => JSON.stringify(event)).join(",\r\n")}]\r\n`;
}
