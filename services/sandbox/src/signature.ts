import { createHmac } from "node:crypto";

// How the sandbox signs its webhooks, shared by its server (which signs) and
// its client (which verifies): HMAC-SHA256 over "<unix seconds>.<raw body>",
// sent as `Sandbox-Signature: t=<seconds>,v1=<hex>`. The timestamp lets
// receivers refuse replays of old deliveries.

export const sandboxSignatureHeader = "sandbox-signature";

// Each account's webhook secret is derived from its API key, so a new
// account needs no second credential and its secret stays the same across
// restarts.
export function sandboxWebhookSecret(apiKey: string): string {
  return "whsec_" + createHmac("sha256", apiKey).update("sandbox webhook secret").digest("base64url");
}
