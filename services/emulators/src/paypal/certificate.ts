import { sign, type KeyObject } from "node:crypto";

// A self-signed X.509 certificate for the emulator's webhook signing key,
// served at the paypal-cert-url like PayPal's message verification
// certificate. Node can read certificates but not write them, hence this
// minimal DER encoder.

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest >>= 8) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function der(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

const sequence = (...parts: Buffer[]) => der(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]) => der(0x31, Buffer.concat(parts));
const derNull = Buffer.from([0x05, 0x00]);

function integer(value: Buffer): Buffer {
  // DER integers are signed: a leading 1 bit needs a zero byte in front.
  const first = value[0] ?? 0;
  return der(0x02, first & 0x80 ? Buffer.concat([Buffer.from([0]), value]) : value);
}

function objectIdentifier(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split(".").map(Number);
  const bytes = [first * 40 + second];
  for (const component of rest) {
    const chunk = [component & 0x7f];
    for (let value = component >> 7; value > 0; value >>= 7) chunk.unshift((value & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}

function utcTime(date: Date): Buffer {
  const text = date.toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z";
  return der(0x17, Buffer.from(text, "ascii"));
}

function commonNameOnly(commonName: string): Buffer {
  return sequence(set(sequence(objectIdentifier("2.5.4.3"), der(0x0c, Buffer.from(commonName, "utf8")))));
}

const sha256WithRsaEncryption = sequence(objectIdentifier("1.2.840.113549.1.1.11"), derNull);

export function selfSignedCertificatePem(
  keys: { publicKey: KeyObject; privateKey: KeyObject },
  commonName: string,
  serialNumber: Buffer,
): string {
  const now = Date.now();
  const name = commonNameOnly(commonName);
  const toBeSigned = sequence(
    der(0xa0, integer(Buffer.from([2]))), // X.509 v3
    integer(serialNumber),
    sha256WithRsaEncryption,
    name,
    sequence(utcTime(new Date(now - 24 * 3600_000)), utcTime(new Date(now + 365 * 24 * 3600_000))),
    name,
    keys.publicKey.export({ type: "spki", format: "der" }),
  );
  const signature = sign("sha256", toBeSigned, keys.privateKey);
  const certificate = sequence(toBeSigned, sha256WithRsaEncryption, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const lines = certificate.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`;
}
