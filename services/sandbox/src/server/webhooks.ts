import { createHmac, randomBytes } from "node:crypto";

// The sandbox signs webhooks the way hosted providers do: HMAC-SHA256 over
// "<unix seconds>.<raw body>", sent as `Sandbox-Signature: t=<seconds>,v1=<hex>`.
// The timestamp lets receivers refuse replays of old deliveries.

const signatureHeader = "sandbox-signature";

export interface SandboxEvent {
  id: string;
  // payment.<status>, refund.<status> or message.<status>.
  type: string;
  // Unix seconds.
  created: number;
  data: { object: unknown };
}

// Each account's webhook secret is derived from its API key, so a new
// account needs no setup and its secret stays the same across restarts.
function sandboxWebhookSecret(apiKey: string): string {
  return "whsec_" + createHmac("sha256", apiKey).update("sandbox webhook secret").digest("base64url");
}

function signPayload(secret: string, payload: string, timestampSeconds: number): string {
  const v1 = createHmac("sha256", secret).update(`${timestampSeconds}.${payload}`).digest("hex");
  return `t=${timestampSeconds},v1=${v1}`;
}

export function sandboxEvent(type: string, object: unknown): SandboxEvent {
  return {
    id: `sbx_evt_${randomBytes(12).toString("hex")}`,
    type,
    created: Math.floor(Date.now() / 1000),
    data: { object },
  };
}

// The raw body and headers of a delivery of `event` signed at `signedAt`.
export function signSandboxEvent(
  apiKey: string,
  event: SandboxEvent,
  signedAt: Date = new Date(),
): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify(event);
  const timestamp = Math.floor(signedAt.getTime() / 1000);
  return {
    body,
    headers: { [signatureHeader]: signPayload(sandboxWebhookSecret(apiKey), body, timestamp) },
  };
}
