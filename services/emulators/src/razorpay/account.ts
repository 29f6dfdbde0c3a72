import { createHmac } from "node:crypto";
import { postWebhook } from "@onerouter/sandbox";
import type { RazorpayOrder, RazorpayPayment, RazorpayRefund } from "./entities";
import { buildRazorpayWebhook, type RazorpayWebhookEvent, type SignedRazorpayWebhook, type WebhookEntities } from "./webhooks";

// The merchant account's orders, payments and refunds, and the state changes
// that Razorpay reports as webhook events.

export interface RazorpayAccountSettings {
  accountId: string;
  keySecret: string;
  webhookSecret: string;
  // Each event is posted here as it happens, as to a webhook configured on the Dashboard.
  webhookUrl?: string;
}

export class RazorpayAccount {
  readonly orders = new Map<string, RazorpayOrder>();
  readonly orderIdsByReceipt = new Map<string, string>();
  readonly captureModes = new Map<string, "automatic" | "manual">();
  readonly payments = new Map<string, RazorpayPayment>();
  readonly refunds = new Map<string, RazorpayRefund>();

  constructor(private readonly settings: RazorpayAccountSettings) {}

  emit(event: RazorpayWebhookEvent, entities: WebhookEntities) {
    if (!this.settings.webhookUrl) return;
    const webhook = this.signedWebhook(event, entities);
    // Delivery is fire-and-forget: a failing receiver is the receiver's problem.
    void postWebhook(this.settings.webhookUrl, webhook.body, webhook.headers).catch(() => undefined);
  }

  signedWebhook(event: RazorpayWebhookEvent, entities: WebhookEntities): SignedRazorpayWebhook {
    return buildRazorpayWebhook(event, entities, { accountId: this.settings.accountId, secret: this.settings.webhookSecret });
  }

  requirePayment(paymentId: string): RazorpayPayment {
    const payment = this.payments.get(paymentId);
    if (!payment) throw new Error(`no Razorpay payment ${paymentId}`);
    return payment;
  }

  // The fields Razorpay hands back (and posts to the callback URL) once a payment is authorized.
  paymentSucceeded(payment: RazorpayPayment) {
    const signature = createHmac("sha256", this.settings.keySecret)
      .update(`${payment.order_id}|${payment.id}`)
      .digest("hex");
    return {
      status: 200,
      body: { razorpay_payment_id: payment.id, razorpay_order_id: payment.order_id, razorpay_signature: signature },
    };
  }

  capture(payment: RazorpayPayment) {
    const order = this.orders.get(payment.order_id);
    payment.status = "captured";
    payment.captured = true;
    // Razorpay's fee includes 18% GST on its 2% commission.
    const commission = Math.round(payment.amount * 0.02);
    payment.tax = Math.round(commission * 0.18);
    payment.fee = commission + payment.tax;
    this.emit("payment.captured", { payment });
    if (order) {
      order.status = "paid";
      order.amount_paid = order.amount;
      order.amount_due = 0;
      this.emit("order.paid", { payment, order });
    }
  }

  authorize(payment: RazorpayPayment) {
    payment.status = "authorized";
    payment.acquirer_data = { auth_code: String(Math.floor(100000 + Math.random() * 900000)) };
    this.emit("payment.authorized", { payment });
    if (this.captureModes.get(payment.order_id) === "automatic") this.capture(payment);
  }
}
