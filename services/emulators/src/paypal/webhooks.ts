import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import type { EmulatorReply, EmulatorRequest } from "@onerouter/sandbox";
import type { PaypalAccount } from "./account";
import { selfSignedCertificatePem } from "./certificate";
import { fail } from "./errors";
import { asRecord, jsonBody } from "./request";
import {
  link,
  paypalId,
  renderAuthorization,
  renderCapture,
  renderOrder,
  renderRefund,
  timestamp,
  type PaypalWebhookEventType,
} from "./resources";
import { paypalAuthAlgo, rawMemberText, transmissionSignature, transmissionSignatureValid } from "./signing";

// PayPal's webhooks: the events it sends, their transmission signature with
// the certificate behind it, and POST /v1/notifications/verify-webhook-signature.

export interface SignedPaypalWebhook {
  body: string;
  headers: Record<string, string>;
}

export interface WebhookSigning {
  apiUrl: string;
  webhookId: string;
  transmissionTime?: Date;
}

// The event PayPal would send now about the order's latest capture,
// authorization, refund or approval; api is where the emulator listens.
export function webhookEvent(account: PaypalAccount, eventType: PaypalWebhookEventType, orderId: string, api: string): object {
  const order = account.orders.get(orderId);
  if (!order) throw new Error(`no PayPal order ${orderId}`);
  const payments = account.paymentsOf(order);
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

// Signs as PayPal does, with a key whose certificate the emulator serves at
// the paypal-cert-url of each webhook it signs.
export class PaypalWebhookSigner {
  private readonly keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
  private readonly certId = `CERT-360caa42-fca2a594-${randomBytes(4).toString("hex")}`;
  readonly certificatePem = selfSignedCertificatePem(
    this.keys,
    "messageverificationcerts.sandbox.paypal.com",
    randomBytes(16),
  );
  readonly certificatePath = `/v1/notifications/certs/${this.certId}`;

  sign(event: object, signing: WebhookSigning): SignedPaypalWebhook {
    const body = JSON.stringify(event);
    const fields = {
      transmissionId: randomUUID(),
      transmissionTime: timestamp(signing.transmissionTime),
      webhookId: signing.webhookId,
    };
    return {
      body,
      headers: {
        "content-type": "application/json",
        "paypal-transmission-id": fields.transmissionId,
        "paypal-transmission-time": fields.transmissionTime,
        "paypal-transmission-sig": transmissionSignature(this.keys.privateKey, fields, body),
        "paypal-cert-url": `${signing.apiUrl}${this.certificatePath}`,
        "paypal-auth-algo": paypalAuthAlgo,
        "paypal-auth-version": "v2",
      },
    };
  }

  verify(req: EmulatorRequest): EmulatorReply {
    const text = req.rawBody.toString("utf8");
    const body = jsonBody(req);
    for (const field of ["auth_algo", "cert_url", "transmission_id", "transmission_sig", "transmission_time", "webhook_id"]) {
      if (typeof body[field] !== "string") {
        fail("INVALID_REQUEST", { issue: "MISSING_REQUIRED_PARAMETER", description: "A required field is missing.", field: `/${field}`, location: "body" });
      }
    }
    const eventText = rawMemberText(text, "webhook_event");
    if (!asRecord(body.webhook_event) || eventText === undefined) {
      fail("INVALID_REQUEST", { issue: "MISSING_REQUIRED_PARAMETER", description: "A required field is missing.", field: "/webhook_event", location: "body" });
    }
    const certPath = URL.canParse(body.cert_url as string) ? new URL(body.cert_url as string).pathname : undefined;
    let verified = false;
    if (body.auth_algo === paypalAuthAlgo && certPath === this.certificatePath) {
      try {
        verified = transmissionSignatureValid(
          this.keys.publicKey,
          {
            transmissionId: body.transmission_id as string,
            transmissionTime: body.transmission_time as string,
            webhookId: body.webhook_id as string,
          },
          eventText,
          body.transmission_sig as string,
        );
      } catch {
        verified = false;
      }
    }
    return { status: 200, body: { verification_status: verified ? "SUCCESS" : "FAILURE" } };
  }
}
