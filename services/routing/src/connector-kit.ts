// What every connector shares, whatever its category: the context of one
// provider call, how a failure is classified, and an inbound webhook.
// The error kinds decide failover, so they are the same for payments and
// messaging.

import type { ProviderTransport } from "./provider-outbound";

export interface ConnectorContext {
  // Decrypted credentials of the provider account, e.g. { secret_key }.
  credentials: Record<string, string>;
  // Non-secret settings, e.g. { base_url } pointing at an emulator.
  settings: Record<string, string>;
  // Budget for one provider call; exceeding it after sending is ambiguous.
  timeoutMs: number;
  // How the call reaches the network: every HTTP client of a connector goes
  // through its agents, which apply the SSRF rules.
  transport: ProviderTransport;
}

export interface ProviderFailure {
  // UPPER_SNAKE, e.g. PROVIDER_DECLINED.
  reason: string;
  message: string;
  // Normalized decline code, e.g. insufficient_funds, card_declined.
  declineCode?: string;
  // The provider's own code, unchanged.
  providerCode?: string;
}

export interface WebhookInput {
  rawBody: Buffer;
  // Lower-cased header names.
  headers: Record<string, string>;
  // The full URL the provider called, for schemes that sign it.
  url: string;
  // Where single-use values of signatures are remembered (given by the
  // inbound route), for schemes whose signature does not cover the event.
  nonces?: WebhookNonces;
}

// Remembers the nonces of one provider account's signatures until their
// signatures expire, across restarts and processes.
export interface WebhookNonces {
  // False when the nonce was already used for another body: a signature
  // lifted onto other content. The same body again is a redelivery.
  claim(nonce: string, body: Buffer, expiresAt: Date): Promise<boolean>;
}

// Why a provider call failed without an answer. For payments "processed"
// means the money moved; for messaging, that the message was accepted.
export type ConnectorErrorKind =
  // The provider provably did not take the money: connection refused, DNS
  // failure, a 5xx or 429 the provider documents as not processed, bad
  // credentials. Safe to fail over.
  | "not_processed"
  // The request may have been processed (timeout or reset after sending).
  // Never fail over; resolve with syncPayment.
  | "ambiguous"
  // The provider rejected the request itself (validation, state). Not a
  // provider outage; never fail over.
  | "invalid_request"
  // A webhook failed verification (signature, timestamp, format).
  | "invalid_signature";

export class ConnectorError extends Error {
  constructor(
    readonly kind: ConnectorErrorKind,
    readonly provider: string,
    message: string,
    readonly details: {
      reason?: string;
      providerCode?: string;
      httpStatus?: number;
      retryAfterMs?: number;
    } = {},
  ) {
    super(message);
    this.name = "ConnectorError";
  }
}

// A provider's SDK, imported by the first call that needs it rather than
// when the server starts, so a process holds only the SDKs of the providers
// it calls: each holds 4-6 MiB of heap and 13-24 MiB of RSS once loaded, and
// all of them took 31-34 MiB of a server's RSS before its first call. The
// price is paid once per process and provider: its first call waits for the
// import (60-150 ms), which in a process that runs the provider workers is
// each enabled account's health probe at start. The call sends nothing
// until the SDK is there, so a failed import is not processed; the next
// call imports again.
export function sdkLoadedOnFirstCall<T>(provider: string, load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= load().catch((err: unknown) => {
      loading = undefined;
      const cause = err instanceof Error ? err.message : String(err);
      throw new ConnectorError("not_processed", provider, `The ${provider} SDK could not be loaded: ${cause}`, { reason: "PROVIDER_UNAVAILABLE" });
    });
    return loading;
  };
}
