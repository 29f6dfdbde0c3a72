// The SDK's validator alone: the whole SDK is loaded by the first call (client.ts).
import { validateRequest } from "twilio/lib/webhooks/webhooks.js";
import { ConnectorError, type WebhookInput } from "@onerouter/routing";
import { callbackAttemptParam, type MessageStatusEvent } from "../connector";
import { messageStatus } from "./mapping";

function rejected(message: string, reason: string): ConnectorError {
  return new ConnectorError("invalid_signature", "twilio", message, { reason });
}

// The form parameters of a callback, repeated names as lists, the way the
// SDK's validator expects them.
function formParams(rawBody: Buffer): Record<string, string | string[]> {
  const params: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(rawBody.toString("utf8"))) {
    const seen = params[name];
    params[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return params;
}

// Verifies X-Twilio-Signature (HMAC-SHA1 under the auth token over the URL
// and the sorted form parameters; the SDK's validator compares in constant
// time and allows for the URL with or without its default port) and returns
// the parameters.
export function verifyTwilioCallback(input: WebhookInput, authToken: string): Record<string, string | string[]> {
  const signature = input.headers["x-twilio-signature"];
  if (!signature) throw rejected("Missing X-Twilio-Signature header", "WEBHOOK_SIGNATURE_MISSING");
  const params = formParams(input.rawBody);
  if (!validateRequest(authToken, signature, input.url, params)) {
    throw rejected("X-Twilio-Signature does not match the request", "WEBHOOK_SIGNATURE_MISMATCH");
  }
  return params;
}

// Turns a verified status callback into the status change it reports.
export function parseTwilioCallback(url: string, params: Record<string, string | string[]>): MessageStatusEvent[] {
  const messageSid = params.MessageSid;
  const reported = params.MessageStatus;
  if (typeof messageSid !== "string" || typeof reported !== "string") {
    throw rejected("Twilio status callback without MessageSid or MessageStatus", "WEBHOOK_MALFORMED");
  }
  const status = messageStatus(reported);
  if (!status) return [];
  const attemptId = new URL(url).searchParams.get(callbackAttemptParam);
  const errorCode = typeof params.ErrorCode === "string" && params.ErrorCode ? params.ErrorCode : undefined;
  const failed = status === "failed" || status === "undelivered";
  return [
    {
      providerEventId: `${messageSid}:${reported}`,
      providerMessageId: messageSid,
      ...(attemptId && { attemptId }),
      status,
      ...(failed && {
        failure: {
          reason: status === "undelivered" ? "MESSAGE_UNDELIVERED" : "MESSAGE_FAILED",
          message: `Twilio reports the message ${reported}${errorCode ? ` (error ${errorCode})` : ""}`,
          ...(errorCode && { providerCode: errorCode }),
        },
      }),
    },
  ];
}
