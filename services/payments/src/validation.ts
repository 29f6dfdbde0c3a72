import {
  CaptureMethod,
  PaymentStatus,
  type CreatePaymentRequest,
  type ListPaymentsRequest,
} from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { invalidArgument, isCurrencyCode, isKnownCurrency, maxLength, validMetadata, validTimeRange } from "@onerouter/core";
import { paymentConnectors } from "./connectors/index";
import { paymentStateOf } from "./state";
import type { NewPayment, PaymentFilter } from "./store";

// Request checks that answer INVALID_ARGUMENT naming the field, before
// anything is stored or sent to a provider.

export function validAmount(field: string, amount: bigint, allowZero: boolean): bigint {
  if (amount < 0n || (!allowZero && amount === 0n)) {
    throw invalidArgument(field, allowZero ? "must not be negative" : "must be greater than 0");
  }
  return amount;
}

function validUrl(field: string, value: string): string {
  if (value === "") return value;
  maxLength(field, value, 2048);
  if (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol)) throw invalidArgument(field, "must be an http(s) URL");
  return value;
}

export function validCreatePayment(req: CreatePaymentRequest): NewPayment {
  validAmount("amount", req.amount, false);
  if (req.currency === "") throw invalidArgument("currency", "is required");
  if (!isCurrencyCode(req.currency)) throw invalidArgument("currency", "must be an upper-case three-letter ISO 4217 code");
  if (!isKnownCurrency(req.currency)) throw invalidArgument("currency", `${req.currency} is not an ISO 4217 currency`);
  if (![CaptureMethod.UNSPECIFIED, CaptureMethod.AUTOMATIC, CaptureMethod.MANUAL].includes(req.captureMethod)) {
    throw invalidArgument("capture_method", "must be CAPTURE_METHOD_AUTOMATIC or CAPTURE_METHOD_MANUAL");
  }
  const customer = req.customer;
  const customerFields: Record<string, string> = {};
  if (customer) {
    for (const [name, value, max] of [
      ["id", customer.id, 255],
      ["email", customer.email, 320],
      ["name", customer.name, 255],
      ["phone", customer.phone, 32],
    ] as const) {
      if (value !== "") customerFields[name] = maxLength(`customer.${name}`, value, max);
    }
    if (customer.email !== "" && !/^[^\s@]+@[^\s@]+$/.test(customer.email)) {
      throw invalidArgument("customer.email", "must be an email address");
    }
    if (customer.country !== "") {
      if (!/^[A-Z]{2}$/.test(customer.country)) {
        throw invalidArgument("customer.country", "must be an upper-case ISO 3166-1 alpha-2 code, e.g. US");
      }
      customerFields.country = customer.country;
    }
  }
  return {
    amount: req.amount,
    currency: req.currency,
    captureMethod: req.captureMethod === CaptureMethod.MANUAL ? "manual" : "automatic",
    customer: customerFields,
    description: maxLength("description", req.description, 1000),
    metadata: validPaymentMetadata(req.metadata),
    paymentMethodToken: maxLength("payment_method.token", req.paymentMethod?.token ?? "", 255),
    paymentMethodProviderTokens: validProviderTokens(req.paymentMethod?.providerTokens ?? {}),
    returnUrl: validUrl("return_url", req.returnUrl),
  };
}

// The metadata limits of every provider that refuses a payment beyond them.
// A payment may be routed, or fail over, to any provider, so it is checked
// against all of them with the request; the others cut it to fit.
const refusingProviders = paymentConnectors().flatMap(({ connector }) =>
  connector.metadataLimits?.beyond === "refused" ? [{ provider: connector.name, limits: connector.metadataLimits }] : [],
);

function validPaymentMetadata(metadata: Record<string, string>): Record<string, string> {
  validMetadata("metadata", metadata);
  const entries = Object.entries(metadata);
  for (const { provider, limits } of refusingProviders) {
    if (entries.length > limits.maxKeys) {
      throw invalidArgument("metadata", `must have at most ${limits.maxKeys} entries, as ${provider} keeps no more`);
    }
    for (const [key, value] of entries) {
      const field = `metadata[${key}]`;
      if (key.length > limits.maxKeyLength) throw invalidArgument(field, `keys must be at most ${limits.maxKeyLength} characters for ${provider}`);
      const forbidden = [...limits.forbiddenKeyCharacters].filter((c) => key.includes(c));
      if (forbidden.length > 0) throw invalidArgument(field, `keys must not contain ${forbidden.join(" or ")}, which ${provider} refuses`);
      if (value.length > limits.maxValueLength) throw invalidArgument(field, `must be at most ${limits.maxValueLength} characters for ${provider}`);
    }
  }
  return metadata;
}

export function validPaymentFilter(req: ListPaymentsRequest): PaymentFilter {
  const filter: PaymentFilter = { provider: req.provider || undefined, createTime: validTimeRange("create_time", req.createTime) };
  if (req.status !== PaymentStatus.UNSPECIFIED) {
    filter.status = paymentStateOf(req.status);
    if (!filter.status) throw invalidArgument("status", "is not a PaymentStatus");
  }
  return filter;
}

export function validReason(reason: string): string {
  return maxLength("reason", reason, 500);
}

function validProviderTokens(tokens: Record<string, string>): Record<string, string> {
  const entries = Object.entries(tokens);
  if (entries.length > 20) throw invalidArgument("payment_method.provider_tokens", "must have at most 20 entries");
  for (const [provider, token] of entries) {
    const field = `payment_method.provider_tokens[${provider}]`;
    if (!/^[a-z][a-z0-9_]{0,31}$/.test(provider)) throw invalidArgument(field, "keys must be provider names, e.g. stripe");
    if (token === "" || token.length > 255) throw invalidArgument(field, "must be 1 to 255 characters");
  }
  return tokens;
}
