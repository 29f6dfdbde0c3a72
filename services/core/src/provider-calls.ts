import { create, fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { ProviderErrorSchema, type ProviderError } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { ConnectorError, type ProviderFailure } from "./connector-kit";
import { jsonColumn } from "./json-column";
import type { Logger } from "./logging";
import type { CircuitBreakers } from "./routing/circuit-breaker";

// What an engine makes of a provider call that did not answer, whatever the
// category: the connector's error kind decides whether failing over is safe,
// and every call tells the account's circuit breaker something.

export type FailedCall =
  // Provably not processed: failing over is safe.
  | { kind: "not_taken"; error: ProviderError }
  // The provider refused the request itself: no other provider would do better.
  | { kind: "rejected"; error: ProviderError }
  // Maybe processed: only that provider can tell.
  | { kind: "unknown"; error: ProviderError };

const defaultReasons: Record<ConnectorError["kind"], string> = {
  not_processed: "PROVIDER_UNAVAILABLE",
  ambiguous: "PROVIDER_TIMEOUT",
  invalid_request: "PROVIDER_INVALID_REQUEST",
  invalid_signature: "WEBHOOK_SIGNATURE_INVALID",
};

export function classifyCallFailure(provider: string, err: unknown, logger?: Logger): FailedCall {
  if (!(err instanceof ConnectorError)) {
    // A connector bug, not a provider answer: the call may still have gone out.
    logger?.error({ err, provider }, "connector failed unexpectedly");
    return { kind: "unknown", error: providerErrorOf(provider) };
  }
  const error = create(ProviderErrorSchema, {
    reason: err.details.reason ?? defaultReasons[err.kind],
    message: err.message,
    provider,
    providerCode: err.details.providerCode ?? "",
  });
  switch (err.kind) {
    case "not_processed":
      return { kind: "not_taken", error };
    case "ambiguous":
      return { kind: "unknown", error };
    case "invalid_request":
    case "invalid_signature":
      return { kind: "rejected", error };
  }
}

// A provider's answer is health, whatever it said; "not taken" is a failure;
// an unknown outcome says nothing either way.
export function recordCallHealth(
  breakers: CircuitBreakers,
  account: { id: string; provider: string },
  outcome: "answered" | FailedCall["kind"],
): void {
  if (outcome === "not_taken") breakers.recordFailure(account.id, account.provider);
  else if (outcome === "unknown") breakers.recordInconclusive(account.id, account.provider);
  else breakers.recordSuccess(account.id, account.provider);
}

export function providerErrorOf(provider: string, failure?: ProviderFailure): ProviderError {
  return create(ProviderErrorSchema, {
    reason: failure?.reason ?? "PROVIDER_ERROR",
    message: failure?.message ?? "the provider call failed unexpectedly",
    declineCode: failure?.declineCode ?? "",
    provider,
    providerCode: failure?.providerCode ?? "",
  });
}

// ProviderError is stored as proto3 JSON in jsonb columns.
export function storedProviderError(error: ProviderError | undefined): string | null {
  return error ? JSON.stringify(toJson(ProviderErrorSchema, error)) : null;
}

export function providerErrorFromColumn(value: JsonValue | string | null): ProviderError | undefined {
  return value === null ? undefined : fromJson(ProviderErrorSchema, jsonColumn(value));
}
