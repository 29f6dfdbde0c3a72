import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { ConnectorError, type WebhookInput } from "@onerouter/routing";
import type { MessageStatusEvent, ProviderMessageStatus } from "../connector";

// The signature methods a Vonage account can choose in its dashboard, by the
// names of Vonage's SDKs. The dashboard's default is "md5hash"; OneRouter
// assumes "sha256hmac" unless the account's signature_method setting says
// otherwise, since an MD5 of text plus secret is the weakest of them.
export const signatureMethods = ["md5hash", "md5hmac", "sha1hmac", "sha256hmac", "sha512hmac"] as const;
export type VonageSignatureMethod = (typeof signatureMethods)[number];
export const defaultSignatureMethod: VonageSignatureMethod = "sha256hmac";
const hmacAlgorithms = { md5hmac: "md5", sha1hmac: "sha1", sha256hmac: "sha256", sha512hmac: "sha512" } as const;

// Vonage retries a receipt for up to 24 hours and does not document whether
// a retry is signed anew, so a receipt signed longer ago than that (or in the
// future, beyond clock skew) is a replay. Repeats within are caught by the
// event id.
const maxAgeSeconds = 24 * 60 * 60;
const clockSkewSeconds = 300;

function rejected(message: string, reason: string): ConnectorError {
  return new ConnectorError("invalid_signature", "vonage", message, { reason });
}

// The digest behind `sig`: every other parameter, sorted by name, as
// `&name=value` with "&" and "=" in values replaced by "_"; then the MD5 of
// that text followed by the secret ("md5hash"), or its HMAC keyed with the secret.
export function vonageSignature(
  params: Record<string, string>,
  signatureSecret: string,
  method: VonageSignatureMethod,
): Buffer {
  let signed = "";
  for (const name of Object.keys(params).sort()) {
    if (name !== "sig") signed += `&${name}=${(params[name] as string).replace(/[&=]/g, "_")}`;
  }
  if (method === "md5hash") return createHash("md5").update(signed + signatureSecret, "utf8").digest();
  return createHmac(hmacAlgorithms[method], signatureSecret).update(signed, "utf8").digest();
}

// Receipts arrive as the dashboard's POST (a form) or POST-JSON; the body is
// read only as the type it declares. GET receipts are not taken: their
// parameters would mix with the callback URL's own query.
function receiptParams(input: WebhookInput): Record<string, string> {
  const contentType = (input.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  const body = input.rawBody.toString("utf8");
  if (contentType === "application/x-www-form-urlencoded") return Object.fromEntries(new URLSearchParams(body));
  if (contentType === "application/json") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw rejected("Vonage receipt body is not JSON", "WEBHOOK_MALFORMED");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw rejected("Vonage receipt body is not a JSON object", "WEBHOOK_MALFORMED");
    }
    return Object.fromEntries(Object.entries(parsed).map(([name, value]) => [name, String(value)]));
  }
  throw rejected("Vonage receipt is neither a form nor JSON", "WEBHOOK_MALFORMED");
}

// Checks a receipt's `sig` and `timestamp` and returns its parameters;
// throws ConnectorError "invalid_signature".
export function verifyVonageReceipt(
  input: WebhookInput,
  signatureSecret: string,
  method: VonageSignatureMethod,
  nowSeconds = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const params = receiptParams(input);
  const sig = params.sig;
  if (!sig) throw rejected("Vonage receipt has no sig", "WEBHOOK_SIGNATURE_MISSING");
  const expected = vonageSignature(params, signatureSecret, method);
  const presented = /^[0-9a-f]+$/i.test(sig) ? Buffer.from(sig, "hex") : Buffer.alloc(0);
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    throw rejected(`Vonage receipt sig does not match (${method})`, "WEBHOOK_SIGNATURE_MISMATCH");
  }
  const timestamp = Number(params.timestamp);
  if (!params.timestamp || !Number.isInteger(timestamp)) {
    throw rejected("Vonage receipt has no signed timestamp", "WEBHOOK_SIGNATURE_MALFORMED");
  }
  if (nowSeconds - timestamp > maxAgeSeconds || timestamp - nowSeconds > clockSkewSeconds) {
    throw rejected(`Vonage receipt was signed ${nowSeconds - timestamp}s ago`, "WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE");
  }
  return params;
}

// Receipt statuses in OneRouter's terms, with the failure reason of the
// unsuccessful ones; "unknown" tells nothing new.
const receiptStatuses: Record<string, { status: ProviderMessageStatus; reason?: string }> = {
  accepted: { status: "sent" },
  buffered: { status: "sent" },
  delivered: { status: "delivered" },
  failed: { status: "undelivered", reason: "MESSAGE_UNDELIVERED" },
  expired: { status: "undelivered", reason: "MESSAGE_EXPIRED" },
  rejected: { status: "failed", reason: "MESSAGE_REJECTED" },
};

// Turns a verified delivery receipt into the status change it reports; the
// attempt id comes back signed, as the client-ref it was sent with.
export function parseVonageReceipt(params: Record<string, string>): MessageStatusEvent[] {
  const messageId = params.messageId;
  const reported = params.status;
  if (!messageId || !reported) throw rejected("Vonage receipt without messageId or status", "WEBHOOK_MALFORMED");
  const mapped = receiptStatuses[reported];
  if (!mapped) return [];
  const errCode = params["err-code"];
  const attemptId = params["client-ref"];
  return [
    {
      providerEventId: `${messageId}:${reported}`,
      providerMessageId: messageId,
      ...(attemptId && { attemptId }),
      status: mapped.status,
      ...(mapped.reason && {
        failure: {
          reason: mapped.reason,
          message: `Vonage reports the message ${reported}${errCode ? ` (err-code ${errCode})` : ""}`,
          ...(errCode && { providerCode: errCode }),
        },
      }),
    },
  ];
}
