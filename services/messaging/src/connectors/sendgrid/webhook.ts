import { createPublicKey, verify, type KeyObject } from "node:crypto";
import { ConnectorError, hasFieldTypes, type ProviderFailure } from "@onerouter/routing";
import type { MessageStatusEvent, ProviderMessageStatus } from "../connector";
import { attemptIdArg } from "./mapping";

// SendGrid documents no tolerance for the signed timestamp; five minutes is
// the common one. A retried batch is a new POST with its own signature.
export const defaultToleranceSeconds = 300;

export const signatureHeader = "x-twilio-email-event-webhook-signature";
export const timestampHeader = "x-twilio-email-event-webhook-timestamp";

function rejected(message: string, reason: string): ConnectorError {
  return new ConnectorError("invalid_signature", "sendgrid", message, { reason });
}

// The verification key as SendGrid's Mail Settings show it: base64 of the
// DER public key (a PEM block is taken too). Undefined unless it is an ECDSA
// P-256 key.
export function eventWebhookKey(publicKey: string): KeyObject | undefined {
  try {
    const key = publicKey.includes("BEGIN PUBLIC KEY")
      ? createPublicKey(publicKey)
      : createPublicKey({ key: Buffer.from(publicKey.replace(/\s+/g, ""), "base64"), format: "der", type: "spki" });
    return key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1" ? key : undefined;
  } catch {
    return undefined;
  }
}

// Checks the Signed Event Webhook headers: the signature must be
// ECDSA-SHA256 over `<timestamp><raw body>` under the account's key, and the
// timestamp recent. Returns the signed timestamp; throws "invalid_signature".
export function verifySendGridSignature(
  rawBody: Buffer,
  headers: Record<string, string>,
  publicKey: string,
  options: { toleranceSeconds?: number; nowSeconds?: number } = {},
): number {
  const signature = headers[signatureHeader];
  const timestampText = headers[timestampHeader];
  if (!signature || !timestampText) {
    throw rejected("Missing X-Twilio-Email-Event-Webhook-Signature or -Timestamp header", "WEBHOOK_SIGNATURE_MISSING");
  }
  if (!/^\d+$/.test(timestampText)) throw rejected("The webhook timestamp is not unix seconds", "WEBHOOK_SIGNATURE_MALFORMED");
  const key = eventWebhookKey(publicKey);
  if (!key) throw rejected("The event_webhook_public_key is not an ECDSA P-256 public key", "WEBHOOK_SECRET_INVALID");
  let valid: boolean;
  try {
    const signed = Buffer.concat([Buffer.from(timestampText, "utf8"), rawBody]);
    valid = verify("sha256", signed, key, Buffer.from(signature, "base64"));
  } catch {
    // Not a DER signature at all.
    valid = false;
  }
  if (!valid) throw rejected("The Event Webhook signature does not match the payload", "WEBHOOK_SIGNATURE_MISMATCH");
  const timestamp = Number(timestampText);
  const tolerance = options.toleranceSeconds ?? defaultToleranceSeconds;
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (tolerance > 0 && Math.abs(now - timestamp) > tolerance) {
    throw rejected(`The webhook timestamp is ${now - timestamp}s away from now`, "WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE");
  }
  return timestamp;
}

type SendGridEvent = Record<string, unknown> & { event: string; sg_event_id: string; sg_message_id: string };

function isStatusEvent(value: unknown): value is SendGridEvent {
  return hasFieldTypes(value, { event: "string", sg_event_id: "string", sg_message_id: "string" });
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

// The status an event moves the message to; undefined for events that do
// not: processed (still queued), deferred (SendGrid retries for up to 72
// hours), and engagement (open, click, spamreport, unsubscribe, ...).
function statusChange(event: SendGridEvent): { status: ProviderMessageStatus; failure?: ProviderFailure } | undefined {
  switch (event.event) {
    case "delivered":
      return { status: "delivered" };
    // The receiving server refused it: type "bounce" (permanent) or "blocked".
    case "bounce": {
      const type = text(event.type) ?? "bounce";
      return {
        status: "failed",
        failure: {
          reason: "MESSAGE_UNDELIVERED",
          message: text(event.reason) ?? `The receiving server refused the message (${type})`,
          providerCode: type,
        },
      };
    }
    // SendGrid did not send it: a suppressed address or an invalid message.
    case "dropped": {
      const reason = text(event.reason) ?? "dropped";
      return {
        status: "failed",
        failure: { reason: "PROVIDER_REJECTED", message: `SendGrid dropped the message: ${reason}`, providerCode: reason },
      };
    }
    default:
      return undefined;
  }
}

// Parses a verified batch into status changes. Entries SendGrid sends
// without message ids (some engagement events) are not about a send.
export function parseSendGridEvents(rawBody: Buffer): MessageStatusEvent[] {
  let batch: unknown;
  try {
    batch = JSON.parse(rawBody.toString("utf8"));
  } catch {
    throw rejected("The SendGrid webhook body is not JSON", "WEBHOOK_MALFORMED");
  }
  if (!Array.isArray(batch)) throw rejected("The SendGrid webhook body is not an array of events", "WEBHOOK_MALFORMED");
  return batch.filter(isStatusEvent).flatMap((event) => {
    const change = statusChange(event);
    if (!change) return [];
    const attemptId = text(event[attemptIdArg]);
    const timestamp = event.timestamp;
    return [
      {
        providerEventId: event.sg_event_id,
        // sg_message_id is the X-Message-Id the send answered, a dot, and the recipient's copy.
        providerMessageId: event.sg_message_id.split(".")[0] as string,
        ...(attemptId && { attemptId }),
        ...change,
        ...(typeof timestamp === "number" && { occurredAt: new Date(timestamp * 1000) }),
      },
    ];
  });
}
