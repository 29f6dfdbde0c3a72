// What a failed provider call proves about the request it carried, decided
// in one place for every connector: it was never sent (safe to fail over),
// it was sent without a trustworthy answer (ambiguous), or the provider
// answered. What a provider's own error statuses mean is data that each
// connector declares from the provider's documentation.

import { forbiddenDestinationCode } from "@onerouter/core";
import { ConnectorError, type ConnectorErrorKind } from "./connector-kit";

// Socket errors raised before a request could be sent: a call that failed
// with only these provably reached no provider.
const notSentErrorCodes: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_NONAME",
  "EHOSTUNREACH",
  "ENETUNREACH",
  // The SSRF rules refused the address before connecting.
  forbiddenDestinationCode,
]);

// A client's own time budget (axios's ECONNABORTED) or a socket timeout.
const timeoutErrorCodes: ReadonlySet<string> = new Set(["ECONNABORTED", "ETIMEDOUT"]);

// Every error code on an error and its causes.
export function socketErrorCodes(error: unknown): string[] {
  if (typeof error !== "object" || error === null) return [];
  const codes: string[] = [];
  if ("code" in error && typeof error.code === "string") codes.push(error.code);
  if ("cause" in error) codes.push(...socketErrorCodes(error.cause));
  // Node reports a refused dual-stack connect as an AggregateError of per-address errors.
  if (error instanceof AggregateError) for (const inner of error.errors) codes.push(...socketErrorCodes(inner));
  return codes;
}

// true: the error says the connection never came up; false: it says the
// request may have been on the wire; undefined: it says neither.
function connectPhaseEvidence(error: unknown): boolean | undefined {
  if (error instanceof AggregateError && error.errors.length > 0) return error.errors.every((inner) => connectPhaseEvidence(inner) === true);
  if (typeof error !== "object" || error === null) return undefined;
  const { code, syscall, cause } = error as { code?: unknown; syscall?: unknown; cause?: unknown };
  if (syscall === "connect" || syscall === "getaddrinfo") return true;
  const own = typeof code === "string" ? notSentErrorCodes.has(code) : undefined;
  const inner = cause === undefined ? undefined : connectPhaseEvidence(cause);
  if (own === false || inner === false) return false;
  return own ?? inner;
}

// Whether a call that failed with this error provably reached no provider.
export function neverSent(error: unknown): boolean {
  return connectPhaseEvidence(error) === true;
}

function timedOut(error: unknown): boolean {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) return true;
  return socketErrorCodes(error).some((code) => timeoutErrorCodes.has(code));
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

// What a client saw itself of a failed exchange, where it watches the
// socket, over what the error's codes say.
export interface ExchangeFacts {
  // The connection to the provider was up, so the request may have been read.
  connected?: boolean;
  // The call's own time budget ran out.
  timedOut?: boolean;
}

// A call that failed without an HTTP answer. `name` is how messages name
// the provider ("Stripe").
export function transportFailure(provider: string, name: string, error: unknown, facts: ExchangeFacts = {}): ConnectorError {
  const description = errorText(error);
  if (facts.connected === false || (facts.connected === undefined && neverSent(error))) {
    return new ConnectorError("not_processed", provider, `${name} could not be reached (${description})`, {
      reason: "PROVIDER_UNAVAILABLE",
    });
  }
  if (facts.timedOut ?? timedOut(error)) {
    return new ConnectorError("ambiguous", provider, `${name} did not answer in time (${description})`, { reason: "PROVIDER_TIMEOUT" });
  }
  return new ConnectorError("ambiguous", provider, `connection to ${name} lost (${description})`, { reason: "PROVIDER_CONNECTION_LOST" });
}

// A failure status whose body is not the provider's error object comes from
// something in front of the provider (a gateway, a proxy). A 429 was not
// processed; of anything else nothing is known.
export function notProvidersAnswer(provider: string, name: string, status: number): ConnectorError {
  const message = `HTTP ${status} without ${name}'s error object`;
  if (status === 429) return new ConnectorError("not_processed", provider, message, { reason: "PROVIDER_RATE_LIMITED", httpStatus: status });
  return new ConnectorError("ambiguous", provider, message, {
    reason: status >= 500 ? "PROVIDER_UNAVAILABLE" : "PROVIDER_INVALID_RESPONSE",
    httpStatus: status,
  });
}

export interface StatusMeaning {
  kind: ConnectorErrorKind;
  reason: string;
}

// Failure statuses with the reason each stands for; "5xx" stands for any
// other 5xx.
export type StatusReasons = Readonly<Partial<Record<number | "5xx", string>>>;

// What a provider documents its own error statuses to mean, as data.
export interface DocumentedStatuses {
  // Statuses that prove the request was not processed.
  notProcessed: StatusReasons;
  // Statuses after which the request may have been processed.
  ambiguous: StatusReasons;
  // The reason for any other status: the provider rejected the request itself.
  rejected: string;
}

export function statusMeaning(documented: DocumentedStatuses, status: number): StatusMeaning {
  const { notProcessed, ambiguous } = documented;
  const range = status >= 500 ? "5xx" : undefined;
  const notProcessedReason = notProcessed[status] ?? (ambiguous[status] === undefined && range ? notProcessed[range] : undefined);
  if (notProcessedReason !== undefined) return { kind: "not_processed", reason: notProcessedReason };
  const ambiguousReason = ambiguous[status] ?? (range && ambiguous[range]);
  if (ambiguousReason) return { kind: "ambiguous", reason: ambiguousReason };
  return { kind: "invalid_request", reason: documented.rejected };
}

export interface AnswerDetails {
  providerCode?: string;
  retryAfterMs?: number;
}

// An error status in the provider's own answer, as its documentation says.
export function answeredFailure(
  provider: string,
  documented: DocumentedStatuses,
  status: number,
  message: string,
  details: AnswerDetails = {},
): ConnectorError {
  const { kind, reason } = statusMeaning(documented, status);
  return new ConnectorError(kind, provider, message, { reason, httpStatus: status, ...details });
}

