import { randomBytes, randomFillSync } from "node:crypto";

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

// The ids' random bits, drawn from the CSPRNG 4 KiB at a time and each byte
// used once, as Node's randomUUID keeps its own: a payment takes about eight
// ids, and one call into OpenSSL per id cost about 4 µs, a pooled read 0.1.
// Secrets (randomToken) are drawn when made, so none waits in memory.
const idRandomness = Buffer.allocUnsafeSlow(4096);
let idRandomnessUsed = idRandomness.length;

function fillIdRandomness(target: Uint8Array, offset: number, length: number): void {
  if (idRandomnessUsed + length > idRandomness.length) {
    randomFillSync(idRandomness);
    idRandomnessUsed = 0;
  }
  target.set(idRandomness.subarray(idRandomnessUsed, idRandomnessUsed + length), offset);
  idRandomnessUsed += length;
}

// Ids sort by creation time (48-bit milliseconds first, like a ULID) so keyset
// pagination and log reading follow time; 80 random bits keep them unguessable.
export function newId(prefix: string): string {
  const bytes = new Uint8Array(16);
  const now = Date.now();
  for (let i = 5; i >= 0; i--) bytes[5 - i] = Math.floor(now / 2 ** (8 * i)) & 0xff;
  fillIdRandomness(bytes, 6, 10);
  return `${prefix}_${base32(bytes)}`;
}

export function randomToken(byteLength: number): string {
  return randomBytes(byteLength).toString("base64url");
}
