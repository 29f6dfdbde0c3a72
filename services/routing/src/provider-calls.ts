import { create, fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { ProviderErrorSchema, type ProviderError } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { ConnectorError, type ConnectorContext, type ProviderFailure } from "./connector-kit";
import { jsonColumn } from "@onerouter/core";
import type { Logger } from "@onerouter/core";
import type { CircuitBreakers } from "./circuit-breaker";

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

// A connector whose calls follow their transport's verdicts: a call whose
// connection the SSRF rules refused (or whose base_url is no longer allowed)
// is a typed "not processed" failure, safe to fail over, whatever the SDK
// made of the refusal; and what an address other than the provider answered
// (an allowed base_url override) is not passed on to the caller, only the
// normalized reason and status (the text is logged at debug). Every method
// of a connector that takes a context takes it first.
export function underOutboundRules<C extends { readonly name: string }>(connector: C, logger?: Logger): C {
  return new Proxy(connector, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== "function") return value;
      return async (ctx: ConnectorContext, ...rest: unknown[]) => {
        try {
          const result: unknown = await value.call(target, ctx, ...rest);
          return ctx.transport.override ? withoutForeignText(target.name, result) : result;
        } catch (err) {
          throw outboundFailure(target.name, ctx, err, logger);
        }
      };
    },
  });
}

function outboundFailure(provider: string, ctx: ConnectorContext, err: unknown, logger?: Logger): unknown {
  const { transport } = ctx;
  if (transport.blocked) {
    return new ConnectorError("not_processed", provider, `not called: ${transport.blocked}`, { reason: "PROVIDER_BASE_URL_NOT_ALLOWED" });
  }
  const refused = transport.refusal();
  if (refused !== undefined) {
    logger?.debug({ provider, refused }, "provider call refused by the SSRF rules");
    const kind = /(?: is |, )(an? .*)$/.exec(refused)?.[1] ?? "a forbidden address";
    return new ConnectorError("not_processed", provider, `not called: the provider's address is ${kind}, which provider calls may not reach`, {
      reason: "PROVIDER_ADDRESS_FORBIDDEN",
    });
  }
  if (!transport.override || !(err instanceof ConnectorError)) return err;
  logger?.debug({ provider, message: err.message, providerCode: err.details.providerCode }, "answer from an overridden base_url");
  const status = err.details.httpStatus === undefined ? "" : `, HTTP ${err.details.httpStatus}`;
  const summary = `${err.details.reason ?? defaultReasons[err.kind]}${status}`;
  return new ConnectorError(err.kind, provider, foreignText(`${provider} call failed (${summary})`, provider), {
    reason: err.details.reason,
    httpStatus: err.details.httpStatus,
    retryAfterMs: err.details.retryAfterMs,
  });
}

function foreignText(what: string, provider: string): string {
  return `${what}; the answer came from the account's settings.base_url, not from ${provider}, so its text is not shown`;
}

// Results carry a failure's text and codes from the answer (a decline);
// only codes shaped like codes are kept.
function withoutForeignText(provider: string, result: unknown): unknown {
  if (typeof result !== "object" || result === null || !("failure" in result)) return result;
  const failure = result.failure as ProviderFailure | undefined;
  if (!failure) return result;
  const declineCode = failure.declineCode && /^[a-z][a-z0-9_]{0,63}$/.test(failure.declineCode) ? failure.declineCode : undefined;
  return {
    ...result,
    failure: { reason: failure.reason, declineCode, message: foreignText(`${provider} answered ${failure.reason}${declineCode ? ` (${declineCode})` : ""}`, provider) },
  };
}

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

// A provider's answer is health, whatever it said (a refused request too);
// no answer is a failure, whether or not the call may have been processed.
export function recordCallHealth(
  breakers: CircuitBreakers,
  account: { id: string; provider: string },
  outcome: "answered" | FailedCall["kind"],
): void {
  if (outcome === "not_taken" || outcome === "unknown") breakers.recordFailure(account.id, account.provider);
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
