import type { EmulatorRequest } from "@onerouter/sandbox";
import { fail } from "./errors";
import { paypalDecimals, supportedCurrencies, toLowestUnit, type Money } from "./resources";

// Reading a request as PayPal does: headers, the JSON body and its fields,
// each problem answered with PayPal's error for it.

export function header(req: EmulatorRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function jsonBody(req: EmulatorRequest): Record<string, unknown> {
  if (req.rawBody.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(req.rawBody.toString("utf8"));
  } catch {
    fail("INVALID_REQUEST", { issue: "MALFORMED_REQUEST_JSON", description: "The request JSON is not well formed.", location: "body" });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    fail("INVALID_REQUEST", { issue: "MALFORMED_REQUEST_JSON", description: "The request JSON is not an object.", location: "body" });
  }
  return parsed as Record<string, unknown>;
}

export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

export function optionalString(value: unknown, field: string, maxLength: number): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") {
    fail("INVALID_REQUEST", { issue: "INVALID_PARAMETER_SYNTAX", description: "The value of a field does not conform to the expected format.", field, location: "body" });
  }
  if (value.length > maxLength) {
    fail("INVALID_REQUEST", { issue: "INVALID_STRING_MAX_LENGTH", description: `The value of a field is too long (max ${maxLength}).`, field, location: "body" });
  }
  return value;
}

export function validMoney(value: unknown, field: string): Money {
  const money = asRecord(value);
  const currency = money?.currency_code;
  const amount = money?.value;
  if (typeof currency !== "string" || typeof amount !== "string") {
    fail("INVALID_REQUEST", { issue: "MISSING_REQUIRED_PARAMETER", description: "A required field is missing.", field, location: "body" });
  }
  if (!/^[0-9]{1,29}(\.[0-9]+)?$/.test(amount)) {
    fail("INVALID_REQUEST", { issue: "INVALID_PARAMETER_SYNTAX", description: "The value of a field does not conform to the expected format.", field: `${field}/value`, location: "body" });
  }
  if (!supportedCurrencies.has(currency)) {
    fail("UNPROCESSABLE_ENTITY", { issue: "CURRENCY_NOT_SUPPORTED", description: "Currency code is not currently supported.", field: `${field}/currency_code`, location: "body" });
  }
  const fraction = amount.split(".")[1] ?? "";
  if (fraction.length > 0 && paypalDecimals(currency) === 0) {
    fail("UNPROCESSABLE_ENTITY", { issue: "DECIMALS_NOT_SUPPORTED", description: "Currency does not support decimals.", field: `${field}/value`, location: "body" });
  }
  if (fraction.length > 2) {
    fail("UNPROCESSABLE_ENTITY", { issue: "DECIMAL_PRECISION", description: "If the currency supports decimals, only two decimal place precision is supported.", field: `${field}/value`, location: "body" });
  }
  const validated = { currency_code: currency, value: amount };
  if (toLowestUnit(validated) <= 0n) {
    fail("UNPROCESSABLE_ENTITY", { issue: "CANNOT_BE_ZERO_OR_NEGATIVE", description: "Must be greater than zero.", field: `${field}/value`, location: "body" });
  }
  return validated;
}
