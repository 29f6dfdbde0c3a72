// The contract every payment connector implements. A connector is a stateless
// translator between OneRouter and one provider's API: it maps requests,
// responses, statuses and errors, and verifies and parses the provider's
// webhooks. Persistence, retries, routing and failover belong to the core.

import type { ConnectorContext, ProviderFailure, WebhookInput } from "@onerouter/routing";

// The pieces every category's connectors share live in core.
export {
  ConnectorError,
  type ConnectorContext,
  type ConnectorErrorKind,
  type ProviderFailure,
  type WebhookInput,
} from "@onerouter/routing";

export interface ConnectorCustomer {
  id?: string;
  email?: string;
  name?: string;
  phone?: string;
  country?: string;
}

export interface CreatePaymentInput {
  // Our attempt id. Passed to the provider as its idempotency key where it
  // has one, and stored in provider metadata so an ambiguous call can be
  // found again by syncPayment.
  attemptId: string;
  paymentId: string;
  // Minor units of `currency` as OneRouter counts them (ISO 4217 exponent);
  // each connector converts to what its provider expects.
  amount: bigint;
  currency: string;
  captureMethod: "automatic" | "manual";
  paymentMethodToken?: string;
  customer?: ConnectorCustomer;
  description?: string;
  metadata: Record<string, string>;
  returnUrl?: string;
}

export type ProviderPaymentStatus =
  | "succeeded"
  | "requires_capture"
  | "requires_action"
  | "processing"
  | "declined"
  | "canceled";

export interface PaymentResult {
  status: ProviderPaymentStatus;
  providerPaymentId: string;
  // In OneRouter minor units.
  amountCapturable?: bigint;
  amountCaptured?: bigint;
  // For requires_action: where to send the customer.
  redirectUrl?: string;
  // For declined.
  failure?: ProviderFailure;
}

export interface CapturePaymentInput {
  providerPaymentId: string;
  // Minor units; the amount to capture (partial when below the authorized).
  amount: bigint;
  currency: string;
  idempotencyKey: string;
}

export interface CancelPaymentInput {
  providerPaymentId: string;
  idempotencyKey: string;
}

export interface RefundPaymentInput {
  providerPaymentId: string;
  amount: bigint;
  currency: string;
  refundId: string;
  // Our refund id, used as the provider's idempotency key.
  idempotencyKey: string;
  reason?: string;
}

export interface RefundResult {
  status: "succeeded" | "pending" | "failed";
  providerRefundId: string;
  failure?: ProviderFailure;
}

export interface SyncPaymentInput {
  attemptId: string;
  // Known when the provider answered before; absent after a timeout.
  providerPaymentId?: string;
  amount: bigint;
  currency: string;
}

export interface PaymentWebhookEvent {
  // Provider's event id: inbound webhooks are deduplicated by it.
  providerEventId: string;
  providerPaymentId?: string;
  providerRefundId?: string;
  // Our attempt id when the provider echoes it (metadata / receipt).
  attemptId?: string;
  kind: "payment" | "refund" | "ignored";
  status?: ProviderPaymentStatus | RefundResult["status"];
  amountCaptured?: bigint;
  failure?: ProviderFailure;
}

// What a provider keeps of a payment's caller metadata, after the keys the
// connector adds of its own.
export interface MetadataLimits {
  maxKeys: number;
  maxKeyLength: number;
  maxValueLength: number;
  // Characters the provider does not take in a key.
  forbiddenKeyCharacters: string;
  // Metadata beyond the limits: the provider refuses the payment ("refused":
  // requests are checked against the limits before any provider is called),
  // or the connector cuts it to fit ("cut", as its folder documents).
  beyond: "refused" | "cut";
}

export interface PaymentConnector {
  // Registry name, e.g. "stripe"; also the `provider` on API resources.
  readonly name: string;
  // Credential keys an account must carry, e.g. ["secret_key", "webhook_secret"].
  readonly credentialKeys: readonly string[];
  // Which currencies and countries the provider serves; empty means any.
  readonly currencies: readonly string[];
  // Absent when the provider keeps whatever metadata OneRouter accepts.
  readonly metadataLimits?: MetadataLimits;
  // How long after an attempt the provider's lookup used by syncPayment can
  // still miss it (search indexes lag). Until then a `null` from syncPayment
  // is not proof that the money was not taken. Absent means no lag.
  readonly syncSettleMs?: number;
  // The provider takes a payment only with a payment method token of its
  // own: routing passes over it, without calling it, for a payment that has
  // none for it, so that payment can go to a provider that can serve it.
  readonly needsPaymentMethodToken?: boolean;
  createPayment(ctx: ConnectorContext, input: CreatePaymentInput): Promise<PaymentResult>;
  capturePayment(ctx: ConnectorContext, input: CapturePaymentInput): Promise<PaymentResult>;
  cancelPayment(ctx: ConnectorContext, input: CancelPaymentInput): Promise<PaymentResult>;
  refundPayment(ctx: ConnectorContext, input: RefundPaymentInput): Promise<RefundResult>;
  // Asks the provider what became of an attempt. `null` means the provider
  // has no record of it: the money was provably not taken.
  syncPayment(ctx: ConnectorContext, input: SyncPaymentInput): Promise<PaymentResult | null>;
  // Checks the credentials with a harmless call; throws ConnectorError.
  testCredentials(ctx: ConnectorContext): Promise<void>;
  // Verifies and parses an inbound webhook; throws ConnectorError with kind
  // "invalid_signature" when it must be rejected.
  parseWebhook(ctx: ConnectorContext, input: WebhookInput): Promise<PaymentWebhookEvent>;
}
