import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import type { EmulatorReply, EmulatorRequest } from "@onerouter/sandbox";
import { selfSignedCertificatePem } from "./certificate";
import { fail } from "./errors";
import { asRecord, jsonBody } from "./request";
import { timestamp } from "./resources";
import { paypalAuthAlgo, rawMemberText, transmissionSignature, transmissionSignatureValid } from "./signing";

// PayPal's webhook transmission signature, the certificate behind it, and
// POST /v1/notifications/verify-webhook-signature.

export interface SignedPaypalWebhook {
  body: string;
  headers: Record<string, string>;
}

export interface WebhookSigning {
  apiUrl: string;
  webhookId: string;
  transmissionTime?: Date;
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
