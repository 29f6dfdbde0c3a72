import type { JsonValue } from "@bufbuild/protobuf";
import type { JsonColumn } from "@onerouter/core";
import type { AttemptRecord, EnvironmentName } from "@onerouter/routing";
import type { AttemptState, PaymentState, RefundState } from "./state";

// The stored shapes of payments, attempts and refunds, apart from the store
// so the mapping to API messages names them without importing the store.

type Amount = bigint | string;

export interface PaymentRow {
  id: string;
  tenant_id: string;
  environment: EnvironmentName;
  amount: Amount;
  currency: string;
  capture_method: "automatic" | "manual";
  status: PaymentState;
  customer: JsonColumn<Record<string, string>>;
  description: string;
  metadata: JsonColumn<Record<string, string>>;
  payment_method_token: string;
  payment_method_provider_tokens: Record<string, string> | string;
  return_url: string;
  // The key that created it.
  api_key_id: string;
  provider: string;
  provider_account_id: string;
  provider_payment_id: string;
  redirect_url: string;
  amount_capturable: Amount;
  amount_captured: Amount;
  amount_refunded: Amount;
  error: JsonValue | string | null;
  // What routing estimated the chosen account charges, and what the others would have.
  fee: Amount;
  highest_eligible_fee: Amount;
  default_provider_fee: Amount;
  created_at: Date;
  updated_at: Date;
}

// An attempt row: what every room's attempts have, and what this room's add.
export interface AttemptRow extends AttemptRecord<AttemptState> {
  payment_id: string;
  error: JsonValue | string | null;
  latency_ms: number;
  estimated_fee: Amount;
  provider_payment_id: string;
}

export interface RefundRow {
  id: string;
  payment_id: string;
  tenant_id: string;
  environment: EnvironmentName;
  amount: Amount;
  currency: string;
  status: RefundState;
  reason: string;
  provider: string;
  provider_account_id: string;
  provider_refund_id: string;
  error: JsonValue | string | null;
  metadata: JsonColumn<Record<string, string>>;
  created_at: Date;
  updated_at: Date;
}
