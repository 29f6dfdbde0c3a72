import { create, fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  Channel,
  EmailContentSchema,
  MessageAttemptSchema,
  MessageSchema,
  SmsContentSchema,
  SmsEncoding,
  type Message,
  type MessageAttempt,
} from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { environmentFromName, jsonColumn } from "@onerouter/core";
import { providerErrorFromColumn } from "@onerouter/routing";
import { attemptStatuses, messageStatuses } from "./state";
import type { AttemptRow, MessageRow } from "./rows";
import type { MessageContent } from "./validation";

// Stored rows to API messages. Prices are int64 in the database; PGlite
// reads them as bigint and pg as strings, so both go through BigInt().

const encodings = { gsm7: SmsEncoding.GSM7, ucs2: SmsEncoding.UCS2, "": SmsEncoding.UNSPECIFIED } as const;

export function storedContent(content: MessageContent): string {
  const json = content.case === "sms" ? toJson(SmsContentSchema, content.value) : toJson(EmailContentSchema, content.value);
  return JSON.stringify(json);
}

export function messageContent(row: MessageRow): MessageContent {
  const json = jsonColumn<JsonValue>(row.content);
  return row.channel === "sms"
    ? { case: "sms", value: fromJson(SmsContentSchema, json) }
    : { case: "email", value: fromJson(EmailContentSchema, json) };
}

const time = (value: Date | string | null) => (value === null ? undefined : timestampFromDate(new Date(value)));

export function toAttempt(row: AttemptRow): MessageAttempt {
  return create(MessageAttemptSchema, {
    id: row.id,
    provider: row.provider,
    providerAccountId: row.provider_account_id,
    status: attemptStatuses[row.status],
    error: providerErrorFromColumn(row.error),
    createTime: time(row.created_at),
    routingReason: row.routing_reason,
  });
}

export function toMessage(row: MessageRow, attempts: readonly AttemptRow[]): Message {
  return create(MessageSchema, {
    id: row.id,
    environment: environmentFromName(row.environment),
    channel: row.channel === "sms" ? Channel.SMS : Channel.EMAIL,
    status: messageStatuses[row.status],
    content: messageContent(row),
    provider: row.provider,
    providerAccountId: row.provider_account_id,
    providerMessageId: row.provider_message_id,
    error: providerErrorFromColumn(row.error),
    attempts: attempts.map(toAttempt),
    segments: row.segments,
    encoding: encodings[row.encoding],
    country: row.country,
    priceMicros: BigInt(row.price_micros),
    priceCurrency: row.price_currency,
    metadata: jsonColumn(row.metadata),
    createTime: time(row.created_at),
    updateTime: time(row.updated_at),
    sendTime: time(row.sent_at),
    deliverTime: time(row.delivered_at),
  });
}
