import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  CaptureMethod,
  PaymentAttemptSchema,
  PaymentSchema,
  RefundSchema,
  type Payment,
  type PaymentAttempt,
  type Refund,
} from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { environmentFromName, jsonColumn } from "@onerouter/core";
import { providerErrorFromColumn as providerError } from "@onerouter/routing";
import { attemptStatuses, paymentStatuses, refundStatuses } from "./state";
import type { AttemptRow, PaymentRow, RefundRow } from "./rows";

// Stored rows to API messages. Amounts are int64 in the database; PGlite
// reads them as bigint and pg as strings, so both go through BigInt().

export function toAttempt(row: AttemptRow): PaymentAttempt {
  return create(PaymentAttemptSchema, {
    id: row.id,
    provider: row.provider,
    providerAccountId: row.provider_account_id,
    status: attemptStatuses[row.status],
    error: providerError(row.error),
    latency: durationFromMs(row.latency_ms),
    estimatedFee: BigInt(row.estimated_fee),
    providerPaymentId: row.provider_payment_id,
    createTime: timestampFromDate(new Date(row.created_at)),
    routingReason: row.routing_reason,
  });
}

export function toPayment(row: PaymentRow, attempts: readonly AttemptRow[]): Payment {
  return create(PaymentSchema, {
    id: row.id,
    environment: environmentFromName(row.environment),
    amount: BigInt(row.amount),
    currency: row.currency,
    captureMethod: row.capture_method === "manual" ? CaptureMethod.MANUAL : CaptureMethod.AUTOMATIC,
    status: paymentStatuses[row.status],
    customer: jsonColumn(row.customer),
    description: row.description,
    metadata: jsonColumn(row.metadata),
    provider: row.provider,
    providerAccountId: row.provider_account_id,
    providerPaymentId: row.provider_payment_id,
    attempts: attempts.map(toAttempt),
    nextAction:
      row.status === "requires_action" && row.redirect_url !== ""
        ? { action: { case: "redirectToUrl", value: { url: row.redirect_url, returnUrl: row.return_url } } }
        : undefined,
    amountCapturable: BigInt(row.amount_capturable),
    amountCaptured: BigInt(row.amount_captured),
    amountRefunded: BigInt(row.amount_refunded),
    error: providerError(row.error),
    returnUrl: row.return_url,
    createTime: timestampFromDate(new Date(row.created_at)),
    updateTime: timestampFromDate(new Date(row.updated_at)),
  });
}

export function toRefund(row: RefundRow): Refund {
  return create(RefundSchema, {
    id: row.id,
    paymentId: row.payment_id,
    amount: BigInt(row.amount),
    currency: row.currency,
    status: refundStatuses[row.status],
    reason: row.reason,
    provider: row.provider,
    providerRefundId: row.provider_refund_id,
    error: providerError(row.error),
    metadata: jsonColumn(row.metadata),
    createTime: timestampFromDate(new Date(row.created_at)),
    updateTime: timestampFromDate(new Date(row.updated_at)),
  });
}
