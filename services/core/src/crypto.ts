import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

// Envelope encryption for provider credentials: each tenant has a data key,
// stored wrapped by the master key; secrets are sealed with the data key.
// AES-256-GCM throughout; a sealed value is "v1.<iv>.<tag>.<ciphertext>"
// in base64url, bound to its context (tenant, purpose) as associated data.

export function seal(key: Buffer, plaintext: Buffer, context: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(context));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return ["v1", iv, cipher.getAuthTag(), ciphertext].map((p) => (typeof p === "string" ? p : p.toString("base64url"))).join(".");
}

export function open(key: Buffer, sealed: string, context: string): Buffer {
  const [version, iv, tag, ciphertext] = sealed.split(".");
  if (version !== "v1" || !iv || !tag || ciphertext === undefined) throw new Error("not a sealed value");
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
  decipher.setAAD(Buffer.from(context));
  decipher.setAuthTag(Buffer.from(tag, "base64url"));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64url")), decipher.final()]);
}

export function newDataKey(): Buffer {
  return randomBytes(32);
}

// Shows enough of a secret to recognise it and nothing that helps guess it.
export function maskSecret(value: string): string {
  if (value.length <= 8) return "••••";
  return `${value.slice(0, Math.min(8, Math.floor(value.length / 4)))}…${value.slice(-4)}`;
}
