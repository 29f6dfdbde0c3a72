import { ConnectorError, type ConnectorContext, type PaymentResult, type SyncPaymentInput } from "../connector";
import { toPaypalMoney } from "./amounts";
import { paypalCall } from "./client";
import { notPaypalsAnswer, paymentResultFromOrder } from "./mapping";
import type { PaypalAuthorization, PaypalCapture, PaypalOrder, PaypalTransactionSearchResponse } from "./wire";

// Finding an attempt PayPal never answered about. Orders v2 cannot be
// searched by custom_id, and replaying the create call with the same
// PayPal-Request-Id is no lookup: when PayPal never saw the attempt, the
// replay would place the order now. What both PayPal and the emulator offer
// is the Transaction Search API, whose records carry the purchase unit's
// custom_id (our attempt id) as custom_field. Caveat with the real API:
// PayPal documents that executed transactions take up to three hours to
// appear there, so the core should not treat an early `null` as final.

// Transaction event codes of money taken through the Checkout APIs.
const checkoutCaptureCode = "T0006";
const authorizationCode = "T1300";
// Transaction Search allows at most 31 days per query.
const searchWindowMs = 31 * 24 * 3600_000;
const searchPageSize = 500;

interface FoundTransaction {
  id: string;
  eventCode: string;
}

async function findAttemptTransaction(
  ctx: ConnectorContext,
  input: SyncPaymentInput,
): Promise<FoundTransaction | undefined> {
  const money = toPaypalMoney(input.amount, input.currency);
  // The amount filter is in the currency's lowest denomination as PayPal writes it.
  const lowestDenomination = BigInt(money.value.replace(".", "")).toString();
  const end = new Date();
  const start = new Date(end.getTime() - searchWindowMs);
  for (let page = 1; ; page += 1) {
    const result = await paypalCall<PaypalTransactionSearchResponse>(ctx, {
      method: "GET",
      path: "/v1/reporting/transactions",
      query: {
        start_date: start.toISOString(),
        end_date: end.toISOString(),
        transaction_currency: money.currency_code,
        transaction_amount: `[${lowestDenomination} TO ${lowestDenomination}]`,
        balance_affecting_records_only: "N",
        fields: "transaction_info",
        page_size: String(searchPageSize),
        page: String(page),
      },
    });
    // An answer without the list is no proof the attempt is absent.
    if (!Array.isArray(result?.transaction_details)) throw notPaypalsAnswer("a transaction search result");
    for (const detail of result.transaction_details) {
      const info = detail.transaction_info;
      const eventCode = info?.transaction_event_code;
      if (
        info?.custom_field === input.attemptId &&
        info.transaction_id &&
        (eventCode === checkoutCaptureCode || eventCode === authorizationCode)
      ) {
        return { id: info.transaction_id, eventCode };
      }
    }
    if (page >= (result.total_pages ?? 1)) return undefined;
  }
}

async function orderIdOfTransaction(ctx: ConnectorContext, transaction: FoundTransaction): Promise<string | undefined> {
  const id = encodeURIComponent(transaction.id);
  const payment =
    transaction.eventCode === checkoutCaptureCode
      ? await paypalCall<PaypalCapture>(ctx, { method: "GET", path: `/v2/payments/captures/${id}` })
      : await paypalCall<PaypalAuthorization>(ctx, { method: "GET", path: `/v2/payments/authorizations/${id}` });
  return payment.supplementary_data?.related_ids?.order_id;
}

export async function getOrder(ctx: ConnectorContext, orderId: string): Promise<PaypalOrder> {
  return paypalCall<PaypalOrder>(ctx, { method: "GET", path: `/v2/checkout/orders/${encodeURIComponent(orderId)}` });
}

export async function syncPaypalPayment(ctx: ConnectorContext, input: SyncPaymentInput): Promise<PaymentResult | null> {
  if (input.providerPaymentId) {
    try {
      return paymentResultFromOrder(await getOrder(ctx, input.providerPaymentId));
    } catch (err) {
      // Orders nobody paid expire and are then unknown: no money was taken.
      // Only PayPal's own 404 says so, not a gateway's.
      if (err instanceof ConnectorError && err.details.httpStatus === 404 && err.details.reason === "PROVIDER_INVALID_REQUEST") return null;
      throw err;
    }
  }
  const transaction = await findAttemptTransaction(ctx, input);
  if (!transaction) return null;
  const orderId = await orderIdOfTransaction(ctx, transaction);
  if (!orderId) {
    throw new ConnectorError("ambiguous", "paypal", `PayPal transaction ${transaction.id} names no order`, {
      reason: "PROVIDER_INVALID_RESPONSE",
    });
  }
  return paymentResultFromOrder(await getOrder(ctx, orderId));
}
