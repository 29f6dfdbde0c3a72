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

// The last id made in this process, and the millisecond it carries.
let lastId = new Uint8Array(16);
let lastIdMs = -1;
const idStep = new Uint8Array(4);

// Ids sort by creation time (48-bit milliseconds first, like a ULID) so keyset
// pagination and log reading follow time; 80 random bits keep them hard to
// guess. A process's ids also sort in the order it made them: one made in the
// same millisecond as the last (or with the clock set back) is the last one
// raised by a random step of up to 2^32, as a monotonic ULID is, where fresh
// random bits would order the millisecond's ids at random (two events
// appended one after the other, then fanned out in id order, would reach a
// stream the other way round).
export function newId(prefix: string): string {
  const bytes = new Uint8Array(16);
  const now = Date.now();
  if (now > lastIdMs) {
    for (let i = 5; i >= 0; i--) bytes[5 - i] = Math.floor(now / 2 ** (8 * i)) & 0xff;
    fillIdRandomness(bytes, 6, 10);
    lastIdMs = now;
  } else {
    bytes.set(lastId);
    fillIdRandomness(idStep, 0, 4);
    // Adds the step plus one (never zero) to the id as one big-endian number;
    // a carry into the time bytes moves the id to the next millisecond.
    let carry = 1;
    for (let i = 15; i >= 0; i--) {
      const sum = bytes[i]! + (i >= 12 ? idStep[i - 12]! : 0) + carry;
      bytes[i] = sum & 0xff;
      carry = sum >> 8;
      if (i < 12 && carry === 0) break;
    }
    lastIdMs = bytes.subarray(0, 6).reduce((ms, byte) => ms * 256 + byte, 0);
  }
  lastId = bytes;
  return `${prefix}_${base32(bytes)}`;
}

export function randomToken(byteLength: number): string {
  return randomBytes(byteLength).toString("base64url");
}
