import { notFound } from "./errors";
import {
  paypalId,
  renderAuthorization,
  renderCapture,
  renderOrder,
  renderRefund,
  timestamp,
  type EmulatedAuthorization,
  type EmulatedCapture,
  type EmulatedOrder,
  type EmulatedRefund,
  type Money,
  type PaypalWebhookEventType,
  type ProcessorResponse,
} from "./resources";

// The merchant account's orders, authorizations, captures and refunds, and
// the money movements every API that changes them shares.

// Vaulted payment method tokens and the processor response each produces.
export const paypalTestTokens = {
  succeed: "tok_paypal_success",
  decline: "tok_paypal_declined",
  insufficientFunds: "tok_paypal_insufficient_funds",
} as const;

export const processorResponseCodes: Record<string, string> = {
  [paypalTestTokens.succeed]: "0000",
  [paypalTestTokens.decline]: "0500",
  [paypalTestTokens.insufficientFunds]: "5120",
};

const authorizationLifetimeMs = 29 * 24 * 3600_000;

// What a state-changing call produced; replays with the same
// PayPal-Request-Id render the resource's latest state again.
export interface CallResult {
  kind: "order" | "authorization" | "capture" | "refund";
  id: string;
  // Answers 204 without a body unless the caller asked for a representation.
  emptyWhenMinimal?: boolean;
}

// Called for each event PayPal would send; api is where the emulator was reached.
export type EventSink = (api: string, eventType: PaypalWebhookEventType, order: EmulatedOrder) => void;

export class PaypalAccount {
  readonly orders = new Map<string, EmulatedOrder>();
  readonly authorizations = new Map<string, EmulatedAuthorization>();
  readonly captures = new Map<string, EmulatedCapture>();
  readonly refunds = new Map<string, EmulatedRefund>();

  constructor(readonly emit: EventSink) {}

  paymentsOf(order: EmulatedOrder) {
    const orderCaptures = order.captureIds.map((id) => this.captures.get(id)).filter((c) => c !== undefined);
    return {
      authorizations: order.authorizationIds.map((id) => this.authorizations.get(id)).filter((a) => a !== undefined),
      captures: orderCaptures,
      refunds: orderCaptures.flatMap((c) => c.refundIds.map((id) => this.refunds.get(id)).filter((r) => r !== undefined)),
    };
  }

  render(api: string, kind: CallResult["kind"], id: string): Record<string, unknown> {
    switch (kind) {
      case "order": {
        const order = this.orders.get(id) ?? notFound("order_id");
        return renderOrder(api, order, this.paymentsOf(order));
      }
      case "authorization":
        return renderAuthorization(api, this.authorizations.get(id) ?? notFound("authorization_id"));
      case "capture":
        return renderCapture(api, this.captures.get(id) ?? notFound("capture_id"));
      case "refund":
        return renderRefund(api, this.refunds.get(id) ?? notFound("refund_id"));
    }
  }

  findOrder(orderId: string): EmulatedOrder {
    return this.orders.get(orderId) ?? notFound("order_id");
  }

  capture(
    api: string,
    order: EmulatedOrder,
    amount: Money,
    finalCapture: boolean,
    authorizationId?: string,
  ): EmulatedCapture {
    const responseCode = responseCodeOf(order);
    const declined = authorizationId === undefined && responseCode !== undefined && responseCode !== "0000";
    const now = timestamp();
    const created: EmulatedCapture = {
      id: paypalId(),
      orderId: order.id,
      authorizationId,
      status: declined ? "DECLINED" : "COMPLETED",
      amount,
      finalCapture,
      customId: order.purchaseUnit.custom_id,
      invoiceId: order.purchaseUnit.invoice_id,
      processorResponse: responseCode === undefined ? undefined : processorResponse(declined ? responseCode : "0000"),
      refundIds: [],
      createTime: now,
      updateTime: now,
    };
    this.captures.set(created.id, created);
    order.captureIds.push(created.id);
    order.updateTime = now;
    this.emit(api, declined ? "PAYMENT.CAPTURE.DENIED" : "PAYMENT.CAPTURE.COMPLETED", order);
    return created;
  }

  authorize(api: string, order: EmulatedOrder): EmulatedAuthorization {
    const responseCode = responseCodeOf(order);
    const denied = responseCode !== undefined && responseCode !== "0000";
    const now = new Date();
    const created: EmulatedAuthorization = {
      id: paypalId(),
      orderId: order.id,
      status: denied ? "DENIED" : "CREATED",
      amount: order.purchaseUnit.amount,
      customId: order.purchaseUnit.custom_id,
      invoiceId: order.purchaseUnit.invoice_id,
      processorResponse: responseCode === undefined ? undefined : processorResponse(responseCode),
      captureIds: [],
      createTime: timestamp(now),
      updateTime: timestamp(now),
      expirationTime: timestamp(new Date(now.getTime() + authorizationLifetimeMs)),
    };
    this.authorizations.set(created.id, created);
    order.authorizationIds.push(created.id);
    order.updateTime = created.createTime;
    if (!denied) this.emit(api, "PAYMENT.AUTHORIZATION.CREATED", order);
    return created;
  }
}

function processorResponse(responseCode: string): ProcessorResponse {
  return { avs_code: "Y", cvv_code: "M", response_code: responseCode };
}

function responseCodeOf(order: EmulatedOrder): string | undefined {
  return order.card ? (processorResponseCodes[order.card.vaultId] ?? "0000") : undefined;
}
