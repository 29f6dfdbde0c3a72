import type { JsonValue } from "@bufbuild/protobuf";
import type { TimeRange } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import type { JsonColumn } from "@onerouter/core";
import type { AttemptRecord, EnvironmentName } from "@onerouter/routing";
import type { SmsEncoding } from "./sms-encoding";
import type { AttemptState, MessageState } from "./state";

// The stored shapes of messages and attempts, and the filter a listing
// applies to them, apart from the store so the mapping and the validation
// name them without importing the store.

type Micros = bigint | string;

export interface MessageRow {
  id: string;
  tenant_id: string;
  environment: EnvironmentName;
  channel: "sms" | "email";
  status: MessageState;
  content: JsonColumn<JsonValue>;
  metadata: JsonColumn<Record<string, string>>;
  country: string;
  segments: number;
  encoding: SmsEncoding | "";
  billable_units: number;
  provider: string;
  provider_account_id: string;
  provider_message_id: string;
  price_micros: Micros;
  price_currency: string;
  error: JsonValue | string | null;
  created_at: Date;
  updated_at: Date;
  sent_at: Date | null;
  delivered_at: Date | null;
}

// An attempt row: what every room's attempts have, and what this room's add.
export interface AttemptRow extends AttemptRecord<AttemptState> {
  message_id: string;
  error: JsonValue | string | null;
  latency_ms: number;
  price_micros: Micros;
  provider_message_id: string;
}

export interface MessageFilter {
  channel?: "sms" | "email";
  status?: MessageState;
  provider?: string;
  createTime?: TimeRange;
}
