import { createHmac, randomBytes } from "node:crypto";
import { formatAddress, type MailgunAddress } from "./addresses";

// Mailgun's webhooks: one JSON event per POST, with the signature inside
// the body: `signature` = hex HMAC-SHA256 of `<timestamp><token>` keyed with
// the account's HTTP webhook signing key. The signature does not cover
// event-data.

// What the emulator can report for one recipient.
export type MailgunOutcome = "accepted" | "delivered" | "temporary_failure" | "permanent_failure" | "suppressed";

export interface MailgunWebhookPayload {
  signature: { timestamp: string; token: string; signature: string };
  "event-data": Record<string, unknown>;
}

export interface SignedMailgunWebhook {
  payload: MailgunWebhookPayload;
  // The exact body Mailgun posts, and its headers.
  body: string;
  headers: Record<string, string>;
}

export function mailgunSignature(signingKey: string, timestamp: string, token: string): string {
  return createHmac("sha256", signingKey).update(timestamp + token).digest("hex");
}

// Mailgun's event ids: 22 characters of base64url.
export function mailgunEventId(): string {
  return randomBytes(16).toString("base64url").slice(0, 22);
}

export interface EventSubject {
  messageId: string;
  domain: string;
  from: string;
  subject: string;
  recipient: MailgunAddress;
  to: MailgunAddress[];
  variables: Record<string, string>;
  size: number;
}

function outcomeFields(outcome: MailgunOutcome, recipient: string): Record<string, unknown> {
  switch (outcome) {
    case "accepted":
      return { event: "accepted", "log-level": "info", method: "HTTP" };
    case "delivered":
      return {
        event: "delivered",
        "log-level": "info",
        "delivery-status": {
          tls: true,
          "mx-host": `mx.${recipient.slice(recipient.indexOf("@") + 1)}`,
          code: 250,
          description: "",
          "session-seconds": 0.41,
          utf8: true,
          "attempt-no": 1,
          message: "OK",
          "certificate-verified": true,
        },
      };
    case "temporary_failure":
      return {
        event: "failed",
        "log-level": "warn",
        severity: "temporary",
        reason: "generic",
        "delivery-status": {
          code: 452,
          message: "4.2.2 The email account that you tried to reach is over quota.",
          description: "",
          "attempt-no": 1,
          "retry-seconds": 600,
          "session-seconds": 0.38,
        },
      };
    case "permanent_failure":
      return {
        event: "failed",
        "log-level": "error",
        severity: "permanent",
        reason: "bounce",
        "delivery-status": {
          code: 550,
          "bounce-code": "5.1.1",
          message:
            "5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces.",
          description: "",
          "attempt-no": 1,
          "session-seconds": 0.36,
        },
      };
    case "suppressed":
      return {
        event: "failed",
        "log-level": "error",
        severity: "permanent",
        reason: "suppress-bounce",
        "delivery-status": {
          code: 605,
          message: "",
          description: "Not delivering to previously bounced address",
          "attempt-no": 1,
          "session-seconds": 0,
        },
      };
  }
}

export function buildEventData(subject: EventSubject, outcome: MailgunOutcome, timestampSeconds: number): Record<string, unknown> {
  const email = subject.recipient.email;
  return {
    id: mailgunEventId(),
    // Mailgun's event timestamps are fractional seconds.
    timestamp: timestampSeconds + 0.123456,
    ...outcomeFields(outcome, email),
    envelope: { transport: "smtp", sender: `bounce+${subject.domain}@${subject.domain}`, targets: email, "sending-ip": "198.61.254.2" },
    flags: { "is-routed": false, "is-authenticated": true, "is-system-test": false, "is-test-mode": false },
    recipient: email,
    "recipient-domain": email.slice(email.indexOf("@") + 1),
    message: {
      headers: {
        to: subject.to.map(formatAddress).join(", "),
        "message-id": subject.messageId,
        from: subject.from,
        subject: subject.subject,
      },
      attachments: [],
      size: subject.size,
    },
    tags: [],
    campaigns: [],
    "user-variables": subject.variables,
    storage: {
      url: `https://storage.api.mailgun.net/v3/domains/${subject.domain}/messages/${subject.messageId}`,
      key: subject.messageId,
    },
  };
}

export function signWebhook(eventData: Record<string, unknown>, signingKey: string, timestampSeconds: number): SignedMailgunWebhook {
  const timestamp = String(timestampSeconds);
  // 50 random characters, as Mailgun's tokens.
  const token = randomBytes(25).toString("hex");
  const payload: MailgunWebhookPayload = {
    signature: { timestamp, token, signature: mailgunSignature(signingKey, timestamp, token) },
    "event-data": eventData,
  };
  return {
    payload,
    body: JSON.stringify(payload),
    headers: { "content-type": "application/json", "user-agent": "mailgun/treq-16.12.0" },
  };
}
