import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { EventSchema, type Event } from "./gen/onerouter/events/v1/events_pb";

/** Thrown by verifyWebhook when a delivery is not authentic or not an event. */
export class WebhookVerificationError extends Error {
  override name = "WebhookVerificationError";
}

/** Fetch API Headers, or a plain object such as Node's `req.headers`. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

export interface VerifyWebhookOptions {
  /** How far the webhook-timestamp may be from now, either way. Default 300. */
  toleranceSeconds?: number;
  /** The current time; for tests. */
  now?: Date;
}

const secretPrefix = "whsec_";
const encoder = new TextEncoder();

/**
 * Verifies a Standard Webhooks delivery from OneRouter and returns its event.
 *
 * Pass the body exactly as received (before any JSON parsing) and the
 * endpoint's `whsec_...` secret. Uses WebCrypto, so it runs in browsers,
 * Node 20+, Deno, Bun and edge runtimes alike.
 */
export async function verifyWebhook(
  rawBody: string | Uint8Array,
  headers: WebhookHeaders,
  secret: string,
  options: VerifyWebhookOptions = {},
): Promise<Event> {
  const key = secretKey(secret);
  const id = readHeader(headers, "webhook-id");
  const timestamp = readHeader(headers, "webhook-timestamp");
  const signatures = readHeader(headers, "webhook-signature");
  if (!id || !timestamp || !signatures) {
    const missing = Object.entries({ "webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": signatures })
      .filter(([, value]) => !value)
      .map(([name]) => name);
    throw new WebhookVerificationError(`missing header ${missing.join(", ")}`);
  }
  checkTimestamp(timestamp, options);

  const body = typeof rawBody === "string" ? encoder.encode(rawBody) : rawBody;
  const expected = await hmacSha256(key, concat(encoder.encode(`${id}.${timestamp}.`), body));
  // Several signatures appear while a secret is being rotated; one match is enough.
  const matched = signatures.split(" ").some((entry) => {
    const [version, signature] = entry.split(",");
    if (version !== "v1" || signature === undefined) return false;
    const candidate = decodeBase64(signature);
    return candidate !== undefined && constantTimeEqual(candidate, expected);
  });
  if (!matched) {
    throw new WebhookVerificationError("no v1 signature in webhook-signature matches the body and secret");
  }
  return parseEvent(body);
}

function readHeader(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof headers.get === "function") return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  // Repeated headers are one list; for webhook-signature that list is space-separated.
  return Array.isArray(value) ? value.join(" ") : value;
}

function checkTimestamp(timestamp: string, options: VerifyWebhookOptions): void {
  if (!/^\d+$/.test(timestamp)) {
    throw new WebhookVerificationError(`webhook-timestamp "${timestamp}" is not a number of seconds`);
  }
  const tolerance = options.toleranceSeconds ?? 300;
  const age = Math.floor((options.now ?? new Date()).getTime() / 1000) - Number(timestamp);
  if (age > tolerance) {
    throw new WebhookVerificationError(`webhook-timestamp is ${age} s old, more than the ${tolerance} s tolerance`);
  }
  if (age < -tolerance) {
    throw new WebhookVerificationError(`webhook-timestamp is ${-age} s in the future, more than the ${tolerance} s tolerance`);
  }
}

function secretKey(secret: string): Uint8Array<ArrayBuffer> {
  const key = decodeBase64(secret.startsWith(secretPrefix) ? secret.slice(secretPrefix.length) : secret);
  if (!key || key.length === 0) {
    // A configuration mistake, not a bad delivery: kept apart from WebhookVerificationError.
    throw new Error("the webhook secret is not whsec_ followed by base64");
  }
  return key;
}

async function hmacSha256(key: Uint8Array<ArrayBuffer>, data: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const cryptoKey = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, data));
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    return base64Decode(text);
  } catch {
    return undefined;
  }
}

// Compares every byte whatever the first difference, so the time taken
// does not tell an attacker how much of a forged signature was right.
function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

function parseEvent(body: Uint8Array): Event {
  let json: JsonValue;
  try {
    json = JSON.parse(new TextDecoder().decode(body)) as JsonValue;
  } catch {
    throw new WebhookVerificationError("the body is signed but is not JSON");
  }
  try {
    return fromJson(EventSchema, json, { ignoreUnknownFields: true });
  } catch (err) {
    throw new WebhookVerificationError(`the body is signed but is not an event: ${(err as Error).message}`);
  }
}
