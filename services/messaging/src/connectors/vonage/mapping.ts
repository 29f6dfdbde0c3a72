import { ConnectorError } from "@onerouter/routing";
import type { SendResult } from "../connector";
import { smsEncoding } from "../../sms-encoding";

const provider = "vonage";

// One entry of the SMS API's `messages`: one per SMS part of the text.
export interface SmsPart {
  status?: string;
  messageId?: string;
  errorText?: string;
}

// Per-message statuses that leave another provider free to send: Vonage's
// troubleshooting guide says a non-zero status means the message was not
// queued, so these are account or platform conditions with nothing sent.
// That holds for 5 "Internal Error" too: it comes instead of a message id.
const notProcessedReasons: Record<string, string> = {
  "1": "PROVIDER_RATE_LIMITED", // Throttled
  "4": "PROVIDER_AUTHENTICATION_FAILED", // Invalid credentials
  "5": "PROVIDER_UNAVAILABLE", // Internal error
  "8": "PROVIDER_PERMISSION_DENIED", // Partner account barred
  "9": "PROVIDER_QUOTA_EXCEEDED", // Partner quota violation: no credit
  "10": "PROVIDER_RATE_LIMITED", // Too many existing binds
  "11": "PROVIDER_PERMISSION_DENIED", // Account not enabled for HTTP
  "14": "PROVIDER_AUTHENTICATION_FAILED", // Invalid signature
  "32": "PROVIDER_AUTHENTICATION_FAILED", // Signature and API secret disallowed
};

// Any other status is about the message itself (missing or invalid
// parameters, an unroutable or barred number, a destination outside a demo
// account's whitelist, ...): the request is wrong, not the provider.
export function statusFailure(status: string, errorText: string | undefined): ConnectorError {
  const message = `Vonage answered status ${status}: ${errorText ?? "no error text"}`;
  const reason = notProcessedReasons[status];
  if (reason) return new ConnectorError("not_processed", provider, message, { reason, providerCode: status });
  return new ConnectorError("invalid_request", provider, message, {
    reason: "PROVIDER_REJECTED",
    providerCode: status,
  });
}

// The outcome of a send from its parts' statuses. The first part's id names
// the message; receipts for the other parts carry their own ids and the same
// client-ref.
export function sendResult(parts: SmsPart[]): SendResult {
  const accepted = parts.filter((part) => part.status === "0" && part.messageId);
  const refused = parts.find((part) => part.status !== "0");
  const first = accepted[0]?.messageId;
  if (!refused && first) return { providerMessageId: first, status: "queued" };
  if (!refused) {
    throw new ConnectorError("ambiguous", provider, "Vonage answered without a message id or status", {
      reason: "PROVIDER_INVALID_RESPONSE",
    });
  }
  // Some parts were queued: the recipient gets a fragment. That is an answer,
  // and sending again elsewhere would repeat the fragment.
  if (first) {
    return {
      providerMessageId: first,
      status: "failed",
      failure: {
        reason: "MESSAGE_PARTIALLY_SENT",
        message: `Vonage queued ${accepted.length} of ${parts.length} parts; then status ${refused.status}`,
        ...(refused.status && { providerCode: refused.status }),
      },
    };
  }
  throw statusFailure(refused.status ?? "", refused.errorText);
}

// Vonage sends `text` in the GSM 03.38 alphabet unless told `type: unicode`;
// a character outside it (basic set plus the extension table) would arrive
// garbled.
export function needsUnicode(text: string): boolean {
  return smsEncoding(text) === "ucs2";
}
