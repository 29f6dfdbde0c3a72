import { invalidRequest } from "./errors";
import type { StripeParam, StripeParams } from "./form";

// Stripe rejects parameters an endpoint does not know, so a typo in an
// integration fails loudly instead of being silently ignored.
export function rejectUnknown(params: StripeParams, known: readonly string[]) {
  for (const name of Object.keys(params)) {
    if (!known.includes(name)) {
      throw invalidRequest(`Received unknown parameter: ${name}`, { code: "parameter_unknown", param: name });
    }
  }
}

function scalar(params: StripeParams, name: string): string | undefined {
  const value: StripeParam | undefined = params[name];
  if (value === undefined) return undefined;
  if (typeof value !== "string") {
    throw invalidRequest(`Invalid string: ${name}`, { code: "parameter_invalid_string", param: name });
  }
  return value;
}

export function optionalString(params: StripeParams, name: string): string | undefined {
  const value = scalar(params, name);
  return value === "" ? undefined : value;
}

function required<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw invalidRequest(`Missing required param: ${name}.`, { code: "parameter_missing", param: name });
  return value;
}

export function requiredString(params: StripeParams, name: string): string {
  return required(optionalString(params, name), name);
}

export function optionalInteger(params: StripeParams, name: string): number | undefined {
  const value = optionalString(params, name);
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw invalidRequest(`Invalid integer: ${value}`, { code: "parameter_invalid_integer", param: name });
  }
  return Number(value);
}

export function requiredInteger(params: StripeParams, name: string): number {
  return required(optionalInteger(params, name), name);
}

export function optionalBoolean(params: StripeParams, name: string): boolean | undefined {
  const value = optionalString(params, name);
  if (value === undefined) return undefined;
  if (value !== "true" && value !== "false") throw invalidRequest(`Invalid boolean: ${value}`, { param: name });
  return value === "true";
}

export function oneOf<T extends string>(params: StripeParams, name: string, allowed: readonly T[]): T | undefined {
  const value = optionalString(params, name);
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw invalidRequest(`Invalid ${name}: must be one of ${allowed.join(", ")}`, { param: name });
  }
  return value as T;
}

// Stripe's metadata limits: 50 keys, keys up to 40 characters, values up to
// 500; an empty value removes the key.
export function metadataParam(params: StripeParams): Record<string, string> {
  const value = params.metadata;
  if (value === undefined || value === "") return {};
  if (typeof value === "string" || Array.isArray(value)) {
    throw invalidRequest("Invalid metadata: must be a hash", { param: "metadata" });
  }
  const metadata: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    const param = `metadata[${key}]`;
    if (typeof entry !== "string") throw invalidRequest(`Invalid ${param}: must be a string`, { param });
    if (key.length > 40) throw invalidRequest(`Metadata keys can have up to 40 characters: ${key}`, { param });
    if (entry.length > 500) throw invalidRequest(`Metadata values can have up to 500 characters: ${key}`, { param });
    if (entry !== "") metadata[key] = entry;
  }
  if (Object.keys(metadata).length > 50) throw invalidRequest("Metadata can have up to 50 keys", { param: "metadata" });
  return metadata;
}
