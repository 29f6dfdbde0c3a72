import { sign, verify, type KeyObject } from "node:crypto";
import { crc32 } from "node:zlib";

// PayPal's webhook transmission signature: SHA256withRSA over
// "<transmission id>|<transmission time>|<webhook id>|<CRC32 of the body>",
// the CRC32 written as an unsigned decimal, base64 in paypal-transmission-sig.

export const paypalAuthAlgo = "SHA256withRSA";

export interface TransmissionFields {
  transmissionId: string;
  transmissionTime: string;
  webhookId: string;
}

function signedMessage(fields: TransmissionFields, body: string): Buffer {
  const checksum = crc32(Buffer.from(body, "utf8"));
  return Buffer.from(`${fields.transmissionId}|${fields.transmissionTime}|${fields.webhookId}|${checksum}`, "utf8");
}

export function transmissionSignature(privateKey: KeyObject, fields: TransmissionFields, body: string): string {
  return sign("sha256", signedMessage(fields, body), privateKey).toString("base64");
}

export function transmissionSignatureValid(
  publicKey: KeyObject,
  fields: TransmissionFields,
  body: string,
  signature: string,
): boolean {
  return verify("sha256", signedMessage(fields, body), publicKey, Buffer.from(signature, "base64"));
}

function endOfString(json: string, quote: number): number {
  for (let i = quote + 1; i < json.length; i += 1) {
    if (json[i] === "\\") i += 1;
    else if (json[i] === '"') return i + 1;
  }
  return json.length;
}

function skipWhitespace(json: string, from: number): number {
  let i = from;
  while (i < json.length && /\s/.test(json[i] ?? "")) i += 1;
  return i;
}

// Index of the comma or closing brace that ends the value starting at `from`.
function endOfMember(json: string, from: number): number {
  let depth = 0;
  for (let i = from; i < json.length; ) {
    const c = json[i];
    if (c === '"') {
      i = endOfString(json, i);
      continue;
    }
    if (c === "{" || c === "[") depth += 1;
    else if (c === "}" || c === "]") {
      if (depth === 0) return i;
      depth -= 1;
    } else if (c === "," && depth === 0) return i;
    i += 1;
  }
  return json.length;
}

// The exact text of a top-level member's value in a JSON object (everything
// between its colon and the delimiter that ends it). The verification
// endpoint checks the CRC32 over the event as the caller sent it, so a body
// changed in any byte, whitespace included, fails.
export function rawMemberText(json: string, member: string): string | undefined {
  let i = skipWhitespace(json, 0);
  if (json[i] !== "{") return undefined;
  i += 1;
  for (;;) {
    i = skipWhitespace(json, i);
    if (json[i] !== '"') return undefined;
    const keyEnd = endOfString(json, i);
    const key = JSON.parse(json.slice(i, keyEnd)) as string;
    i = skipWhitespace(json, keyEnd);
    if (json[i] !== ":") return undefined;
    const valueStart = i + 1;
    const valueEnd = endOfMember(json, valueStart);
    if (key === member) return json.slice(valueStart, valueEnd);
    if (json[valueEnd] !== ",") return undefined;
    i = valueEnd + 1;
  }
}
