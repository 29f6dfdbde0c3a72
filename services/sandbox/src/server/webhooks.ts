import { createHmac, randomBytes } from "node:crypto";
import { postWebhook } from "../emulator-harness";
import { sandboxSignatureHeader, sandboxWebhookSecret } from "../signature";

// The sandbox's events and their signed deliveries (see ../signature.ts).

export interface SandboxEvent {
  id: string;
  // payment.<status>, refund.<status> or message.<status>.
  type: string;
  // Unix seconds.
  created: number;
  data: { object: unknown };
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
    headers: { [sandboxSignatureHeader]: signPayload(sandboxWebhookSecret(apiKey), body, timestamp) },
  };
}

// Delivered once, fire and forget, as hosted providers do: a receiver that
// misses it can still learn the state by asking. Signed and sent after this
// turn of the event loop, which writes the answer to the request that caused
// it (unless the account asked for added latency), so the caller does not
// wait on the sandbox's webhook work, as it would not on a provider's.
export function emitSandboxEvent(apiKey: string, type: string, object: unknown, webhookUrl: string | undefined): void {
  if (!webhookUrl) return;
  const event = sandboxEvent(type, object);
  setImmediate(() => {
    const { body, headers } = signSandboxEvent(apiKey, event);
    postWebhook(webhookUrl, body, headers).catch(() => undefined);
  });
}
