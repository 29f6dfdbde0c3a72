import { randomBytes } from "node:crypto";

// Crockford-like base32 in lower case: no i, l, o or u.
export const idAlphabet = "0123456789abcdefghjkmnpqrstvwxyz";

function base32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += idAlphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += idAlphabet[(value << (5 - bits)) & 31];
  return out;
}

// Ids sort by creation time (48-bit milliseconds first, like a ULID) so keyset
// pagination and log reading follow time; 80 random bits keep them unguessable.
export function newId(prefix: string): string {
  const bytes = new Uint8Array(16);
  const now = Date.now();
  for (let i = 5; i >= 0; i--) bytes[5 - i] = Math.floor(now / 2 ** (8 * i)) & 0xff;
  bytes.set(randomBytes(10), 6);
  return `${prefix}_${base32(bytes)}`;
}

export function randomToken(byteLength: number): string {
  return randomBytes(byteLength).toString("base64url");
}
