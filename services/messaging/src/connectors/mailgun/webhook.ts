import { createHmac, timingSafeEqual } from "node:crypto";
import { ConnectorError, type ProviderFailure, type WebhookInput } from "@onerouter/routing";
import type { MessageStatusEvent, ProviderMessageStatus } from "../connector";
import { attemptIdVariable } from "./mapping";

// Mailgun recommends refusing signatures whose timestamp is far from now.
export const defaultToleranceSeconds = 300;

function rejected(message: string, reason: string): ConnectorError {
  return new ConnectorError("invalid_signature", "mailgun", message, { reason });
}

export interface MailgunEventData {
  id: string;
  event: string;
  timestamp?: number;
  severity?: string;
  reason?: string;
  message?: { headers?: Record<string, unknown> };
  "delivery-status"?: { code?: number | string; message?: string; description?: string };
  "user-variables"?: Record<string, unknown>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isEventData(value: unknown): value is MailgunEventData {
  return isRecord(value) && typeof value.id === "string" && typeof value.event === "string";
}

function hexEquals(hex: unknown, expected: Buffer): boolean {
  if (typeof hex !== "string" || !/^[0-9a-f]{64}$/i.test(hex)) return false;
  return timingSafeEqual(Buffer.from(hex, "hex"), expected);
}

// A webhook whose signature holds, with what makes the signature single-use.
export interface VerifiedMailgunWebhook {
  eventData: MailgunEventData;
  token: string;
  // When the signature's timestamp leaves the tolerance.
  expiresAt: Date;
}

// Verifies a webhook in Mailgun's JSON format and returns its event-data.
// The signature sits in the body: hex HMAC-SHA256 of `<timestamp><token>`
// under the account's HTTP webhook signing key (`parent-signature` holds the
// primary account's for a subaccount's domain). It does not cover
// event-data, so the token must also be claimed (claimMailgunToken) before
// the event is believed.
// Throws ConnectorError "invalid_signature".
export function verifyMailgunWebhook(
  input: WebhookInput,
  signingKey: string,
  options: { toleranceSeconds?: number; nowSeconds?: number } = {},
): VerifiedMailgunWebhook {
  // Mailgun's legacy webhooks were form-encoded; only the JSON format is read.
  if (!/^application\/json\b/i.test(input.headers["content-type"] ?? "")) {
    throw rejected("The Mailgun webhook is not application/json", "WEBHOOK_MALFORMED");
  }
  let body: unknown;
  try {
    body = JSON.parse(input.rawBody.toString("utf8"));
  } catch {
    throw rejected("The Mailgun webhook body is not JSON", "WEBHOOK_MALFORMED");
  }
  const signature = isRecord(body) ? body.signature : undefined;
  if (!isRecord(signature)) throw rejected("The Mailgun webhook has no signature", "WEBHOOK_SIGNATURE_MISSING");
  const timestamp = String(signature.timestamp ?? "");
  const token = signature.token;
  if (!/^\d+$/.test(timestamp) || typeof token !== "string" || token === "") {
    throw rejected("The Mailgun signature has no timestamp or token", "WEBHOOK_SIGNATURE_MALFORMED");
  }
  const expected = createHmac("sha256", signingKey).update(timestamp + token).digest();
  if (!hexEquals(signature.signature, expected) && !hexEquals(signature["parent-signature"], expected)) {
    throw rejected("The Mailgun signature does not match", "WEBHOOK_SIGNATURE_MISMATCH");
  }
  const tolerance = options.toleranceSeconds ?? defaultToleranceSeconds;
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (tolerance > 0 && Math.abs(now - Number(timestamp)) > tolerance) {
    throw rejected(`The Mailgun signature timestamp is ${now - Number(timestamp)}s away from now`, "WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE");
  }
  const eventData = (body as Record<string, unknown>)["event-data"];
  if (!isEventData(eventData)) throw rejected("The Mailgun webhook has no event-data", "WEBHOOK_MALFORMED");
  return { eventData, token, expiresAt: new Date((Number(timestamp) + tolerance) * 1000) };
}

// Mailgun's token is single-use: once a signature has come with one body, it
// is refused on any other until it expires, so a captured signature cannot
// carry other event data. The same body again is a redelivery, left to the
// event id.
export async function claimMailgunToken(input: WebhookInput, verified: VerifiedMailgunWebhook): Promise<void> {
  if (!input.nonces) throw new Error("Mailgun webhooks are believed only where their tokens are remembered");
  if (!(await input.nonces.claim(verified.token, input.rawBody, verified.expiresAt))) {
    throw rejected("The Mailgun signature was already used for another webhook", "WEBHOOK_REPLAYED");
  }
}

function failure(event: MailgunEventData): ProviderFailure {
  const status = event["delivery-status"] ?? {};
  const reason = event.reason ?? event.event;
  return {
    // suppress-bounce, suppress-unsubscribe, suppress-complaint: Mailgun did
    // not try; otherwise the receiving side refused or it expired.
    reason: reason.startsWith("suppress-") || event.event === "rejected" ? "PROVIDER_REJECTED" : "MESSAGE_UNDELIVERED",
    message: status.message || status.description || `Mailgun reports the message as ${event.event} (${reason})`,
    providerCode: status.code !== undefined ? String(status.code) : reason,
  };
}

// The status an event moves the message to; undefined for events that do
// not: accepted (still queued), temporary failures (Mailgun retries), and
// engagement (opened, clicked, unsubscribed, complained).
function statusChange(event: MailgunEventData): { status: ProviderMessageStatus; failure?: ProviderFailure } | undefined {
  switch (event.event) {
    case "delivered":
      return { status: "delivered" };
    case "failed":
      return event.severity === "permanent" ? { status: "failed", failure: failure(event) } : undefined;
    // Mailgun refused the message before trying to deliver it.
    case "rejected":
      return { status: "failed", failure: failure(event) };
    default:
      return undefined;
  }
}

export function parseMailgunEvent(event: MailgunEventData): MessageStatusEvent[] {
  const change = statusChange(event);
  const messageId = event.message?.headers?.["message-id"];
  if (!change || typeof messageId !== "string") return [];
  const attemptId = event["user-variables"]?.[attemptIdVariable];
  return [
    {
      providerEventId: event.id,
      providerMessageId: messageId.replace(/^<(.*)>$/, "$1"),
      ...(typeof attemptId === "string" && attemptId !== "" && { attemptId }),
      ...change,
      ...(typeof event.timestamp === "number" && { occurredAt: new Date(event.timestamp * 1000) }),
    },
  ];
}
