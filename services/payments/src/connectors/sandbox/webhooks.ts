import { createHmac, timingSafeEqual } from "node:crypto";
import { ConnectorError, type WebhookInput } from "../connector";
import { provider } from "./client";

// Verification of the sandbox's `Sandbox-Signature: t=<unix seconds>,v1=<hex>`
// header: HMAC-SHA256 over "<t>.<raw body>" with the account's webhook secret.

// Deliveries signed further than this from now are refused as replays.
const toleranceSeconds = 300;

// The sandbox derives each account's webhook secret from its API key, so the
// account needs no second credential.
function webhookSecret(apiKey: string): string {
  return "whsec_" + createHmac("sha256", apiKey).update("sandbox webhook secret").digest("base64url");
}

export function verifySandboxSignature(apiKey: string, input: WebhookInput, now: Date = new Date()): void {
  const header = input.headers["sandbox-signature"];
  if (!header) throw rejected("the Sandbox-Signature header is missing");
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(",")) {
    const [key, value] = part.split("=", 2).map((s) => s.trim());
    if (key === "t" && value && /^\d+$/.test(value)) timestamp = Number(value);
    if (key === "v1" && value) signatures.push(value);
  }
  if (timestamp === undefined || signatures.length === 0) throw rejected("the Sandbox-Signature header is malformed");
  if (Math.abs(now.getTime() / 1000 - timestamp) > toleranceSeconds) {
    throw rejected("the webhook timestamp is outside the tolerance");
  }
  const expected = createHmac("sha256", webhookSecret(apiKey))
    .update(`${timestamp}.`)
    .update(input.rawBody)
    .digest();
  const matches = signatures.some((candidate) => {
    const given = Buffer.from(candidate, "hex");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!matches) throw rejected("the webhook signature does not match");
}

export function rejected(message: string): ConnectorError {
  return new ConnectorError("invalid_signature", provider, message, { reason: "WEBHOOK_SIGNATURE_INVALID" });
}
