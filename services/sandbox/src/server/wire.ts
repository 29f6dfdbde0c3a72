import { randomBytes } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { EmulatorReply } from "../emulator-harness";

// How the sandbox reads requests and writes answers, shared by its payments
// and messages: JSON bodies, amounts as decimal strings, errors shaped
// { error: { type, code, message } }.

export type JsonObject = Record<string, unknown>;

// Positive minor units, small enough for every provider's int64.
const amountPattern = /^[1-9][0-9]{0,17}$/;

// An answer the sandbox refuses a request with; the router turns it into a reply.
export class SandboxError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function invalid(message: string): SandboxError {
  return new SandboxError(400, "invalid_request", message);
}

export function errorReply(status: number, type: string, code: string, message: string): EmulatorReply {
  return { status, body: { error: { type, code, message } } };
}

export function parseBody(raw: Buffer): JsonObject {
  if (raw.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString("utf8"));
  } catch {
    throw invalid("The request body is not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw invalid("The request body must be a JSON object");
  return parsed as JsonObject;
}

export function readString(body: JsonObject, name: string): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw invalid(`${name} must be a string`);
  return value;
}

export function readAmount(body: JsonObject, name: string): bigint | undefined {
  const value = readString(body, name);
  if (value === undefined) return undefined;
  if (!amountPattern.test(value)) throw invalid(`${name} must be a positive whole number of minor units, as a string`);
  return BigInt(value);
}

export function readStringMap(body: JsonObject, name: string): Record<string, string> {
  const value = body[name];
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value) || Object.values(value).some((v) => typeof v !== "string")) {
    throw invalid(`${name} must be an object of strings`);
  }
  return { ...(value as Record<string, string>) };
}

export function isHttpUrl(value: string): boolean {
  return URL.canParse(value) && /^https?:$/.test(new URL(value).protocol);
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString("hex")}`;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
