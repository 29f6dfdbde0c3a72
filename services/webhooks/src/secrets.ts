import { randomBytes } from "node:crypto";
import { open, seal } from "@onerouter/core";

// Endpoint signing secrets: whsec_<base64 of 24 random bytes>, as Standard
// Webhooks defines. Stored sealed with the master key, bound to the endpoint.

export interface StoredSecret {
  sealed: string;
  created_at: string;
  // Unset for the current secret; set on the previous one during rotation.
  expires_at: string | null;
}

export function newEndpointSecret(): string {
  return `whsec_${randomBytes(24).toString("base64")}`;
}

export function sealSecret(masterKey: Buffer, endpointId: string, secret: string, expiresAt?: Date): StoredSecret {
  return {
    sealed: seal(masterKey, Buffer.from(secret), `webhook-endpoint:${endpointId}`),
    created_at: new Date().toISOString(),
    expires_at: expiresAt?.toISOString() ?? null,
  };
}

// Secrets that sign now: the current one and any still inside its overlap window.
export function activeSecrets(masterKey: Buffer, endpointId: string, stored: StoredSecret[], now = new Date()): string[] {
  return stored
    .filter((s) => s.expires_at === null || new Date(s.expires_at) > now)
    .map((s) => open(masterKey, s.sealed, `webhook-endpoint:${endpointId}`).toString("utf8"));
}
