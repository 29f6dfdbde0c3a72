import { notFound } from "./errors";
import {
  link,
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

// The merchant account's orders, authorizations, captures and refunds, the
// money movements every API that changes them shares, and the webhook events
// that tell of them.

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

  // The event PayPal would send now about the order's latest capture,
  // authorization, refund or approval; api is where the emulator listens.
  webhookEvent(eventType: PaypalWebhookEventType, orderId: string, api: string): object {
    const order = this.orders.get(orderId);
    if (!order) throw new Error(`no PayPal order ${orderId}`);
    const payments = this.paymentsOf(order);
    let resourceType: string;
    let resource: Record<string, unknown>;
    let summary: string;
    switch (eventType) {
      case "PAYMENT.CAPTURE.COMPLETED":
      case "PAYMENT.CAPTURE.DENIED": {
        const capture = payments.captures.at(-1);
        if (!capture) throw new Error(`PayPal order ${orderId} has no capture`);
        resourceType = "capture";
        resource = renderCapture(api, capture);
        summary = `Payment ${eventType.endsWith("COMPLETED") ? "completed" : "denied"} for ${capture.amount.value} ${capture.amount.currency_code}`;
        break;
      }
      case "PAYMENT.AUTHORIZATION.CREATED":
      case "PAYMENT.AUTHORIZATION.VOIDED": {
        const authorization = payments.authorizations.at(-1);
        if (!authorization) throw new Error(`PayPal order ${orderId} has no authorization`);
        resourceType = "authorization";
        resource = renderAuthorization(api, authorization);
        summary = `Payment ${eventType.endsWith("CREATED") ? "authorized" : "authorization voided"} for ${authorization.amount.value} ${authorization.amount.currency_code}`;
        break;
      }
      case "PAYMENT.CAPTURE.REFUNDED": {
        const refund = payments.refunds.at(-1);
        if (!refund) throw new Error(`PayPal order ${orderId} has no refund`);
        resourceType = "refund";
        resource = renderRefund(api, refund);
        summary = `A ${refund.amount.value} ${refund.amount.currency_code} capture payment was refunded`;
        break;
      }
      case "CHECKOUT.ORDER.APPROVED":
        resourceType = "checkout-order";
        resource = renderOrder(api, order, payments);
        summary = "An order has been approved by buyer";
        break;
    }
    const id = `WH-${paypalId(17)}-${paypalId(17)}`;
    const self = `${api}/v1/notifications/webhooks-events/${id}`;
    return {
      id,
      event_version: "1.0",
      create_time: timestamp(),
      resource_type: resourceType,
      resource_version: "2.0",
      event_type: eventType,
      summary,
      resource,
      links: [link(self, "self"), link(`${self}/resend`, "resend", "POST")],
    };
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
