import { createHmac } from "node:crypto";

// How the sandbox signs its webhooks, shared by its server (which signs) and
// its client (which verifies): HMAC-SHA256 over "<unix seconds>.<raw body>",
// sent as `Sandbox-Signature: t=<seconds>,v1=<hex>`. The timestamp lets
// receivers refuse replays of old deliveries.

export const sandboxSignatureHeader = "sandbox-signature";

// Each account's webhook secret is derived from its API key, so a new
// account needs no second credential and its secret stays the same across
// restarts. Derived once per key and kept: deriving it for every webhook
// verified was half of the verification's cost, a webhook's costliest step
// on the platform. A process uses few sandbox keys; past the limit the
// kept ones are dropped and derived again as needed.
export function sandboxWebhookSecret(apiKey: string): string {
  let secret = derivedSecrets.get(apiKey);
  if (secret === undefined) {
    secret = "whsec_" + createHmac("sha256", apiKey).update("sandbox webhook secret").digest("base64url");
    if (derivedSecrets.size >= derivedSecretsLimit) derivedSecrets.clear();
    derivedSecrets.set(apiKey, secret);
  }
  return secret;
}

const derivedSecrets = new Map<string, string>();
const derivedSecretsLimit = 1024;
