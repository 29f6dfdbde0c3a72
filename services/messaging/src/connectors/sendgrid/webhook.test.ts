import { generateKeyPairSync, sign } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WebhookInput } from "@onerouter/routing";
import { webhookRejection } from "@onerouter/routing/testing";
import { emailInput } from "../contract";
import { sendgridConnector } from "./index";
import { otherAccountPublicKey, startSendGridTestBed, webhookInput, type SendGridTestBed } from "./connector.testing";
import { signatureHeader, timestampHeader, verifySendGridSignature } from "./webhook";

describe("SendGrid Signed Event Webhook", () => {
  let bed: SendGridTestBed;
  let sent: { providerMessageId: string; attemptId: string };

  beforeAll(async () => {
    bed = await startSendGridTestBed();
    const message = emailInput({ cc: [{ email: "cc@example.com" }], bcc: [{ email: "audit@example.com" }] });
    const result = await sendgridConnector.send(bed.ctx, message);
    sent = { providerMessageId: result.providerMessageId, attemptId: message.attemptId };
  });
  afterAll(() => bed.close());

  const publicKey = () => bed.sendgrid.eventWebhookPublicKey;
  const verifyInput = (input: WebhookInput, key = publicKey()) =>
    verifySendGridSignature(input.rawBody, input.headers, key);

  it("reports every recipient of the message, with the attempt from the custom args", async () => {
    const callback = webhookInput(await bed.sendgrid.reportEvents(sent.providerMessageId, "delivered"));
    const events = await sendgridConnector.parseCallback(bed.ctx, callback);
    expect(events).toHaveLength(3);
    for (const event of events) {
      expect(event).toMatchObject({ providerMessageId: sent.providerMessageId, attemptId: sent.attemptId, status: "delivered" });
      expect(event.occurredAt).toBeInstanceOf(Date);
    }
    expect(new Set(events.map((e) => e.providerEventId)).size).toBe(3);
  });

  it("rejects a body changed after signing, even when it stays valid JSON", async () => {
    const signed = await bed.sendgrid.reportEvents(sent.providerMessageId, "delivered");
    const tampered = { ...webhookInput(signed), rawBody: Buffer.from(signed.body.replaceAll('"delivered"', '"dropped"')) };
    expect(webhookRejection(() => verifyInput(tampered)).details.reason).toBe("WEBHOOK_SIGNATURE_MISMATCH");
  });

  it("verifies the raw bytes: a body re-serialized without SendGrid's CRLFs fails", async () => {
    const signed = await bed.sendgrid.reportEvents(sent.providerMessageId, "delivered");
    const reserialized = { ...webhookInput(signed), rawBody: Buffer.from(JSON.stringify(JSON.parse(signed.body))) };
    expect(webhookRejection(() => verifyInput(reserialized)).details.reason).toBe("WEBHOOK_SIGNATURE_MISMATCH");
  });

  it("rejects a signature made with another key", async () => {
    const callback = webhookInput(await bed.sendgrid.reportEvents(sent.providerMessageId, "delivered"));
    expect(webhookRejection(() => verifyInput(callback, otherAccountPublicKey)).details.reason).toBe("WEBHOOK_SIGNATURE_MISMATCH");
  });

  it("rejects a moved timestamp: the signature covers it", async () => {
    const callback = webhookInput(await bed.sendgrid.reportEvents(sent.providerMessageId, "delivered"));
    const moved = { ...callback, headers: { ...callback.headers, [timestampHeader]: String(Number(callback.headers[timestampHeader]) + 1) } };
    expect(webhookRejection(() => verifyInput(moved)).details.reason).toBe("WEBHOOK_SIGNATURE_MISMATCH");
  });

  it("rejects a stale signed timestamp", async () => {
    const signedAt = Math.floor(Date.now() / 1000) - 3600;
    const callback = webhookInput(await bed.sendgrid.reportEvents(sent.providerMessageId, "delivered", { signedAt }));
    expect(webhookRejection(() => verifyInput(callback)).details.reason).toBe("WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE");
    expect(verifySendGridSignature(callback.rawBody, callback.headers, publicKey(), { toleranceSeconds: 7200 })).toBe(signedAt);
  });

  it("rejects missing headers, a signature that is not DER, and a key that is not P-256", async () => {
    const callback = webhookInput(await bed.sendgrid.reportEvents(sent.providerMessageId, "delivered"));
    expect(webhookRejection(() => verifyInput({ ...callback, headers: {} })).details.reason).toBe("WEBHOOK_SIGNATURE_MISSING");
    const garbled = { ...callback, headers: { ...callback.headers, [signatureHeader]: "bm90IGEgc2lnbmF0dXJl" } };
    expect(webhookRejection(() => verifyInput(garbled)).details.reason).toBe("WEBHOOK_SIGNATURE_MISMATCH");
    const edKey = generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "der" });
    expect(webhookRejection(() => verifyInput(callback, edKey.toString("base64"))).details.reason).toBe("WEBHOOK_SECRET_INVALID");
  });

  it("maps bounces and drops to failures with SendGrid's reason, and skips what changes nothing", async () => {
    const parse = async (outcome: Parameters<SendGridTestBed["sendgrid"]["reportEvents"]>[1]) =>
      sendgridConnector.parseCallback(bed.ctx, webhookInput(await bed.sendgrid.reportEvents(sent.providerMessageId, outcome)));
    expect((await parse("bounce"))[0]).toMatchObject({
      status: "failed",
      failure: { reason: "MESSAGE_UNDELIVERED", providerCode: "bounce", message: expect.stringContaining("5.1.1") },
    });
    expect((await parse("blocked"))[0]?.failure?.providerCode).toBe("blocked");
    expect((await parse("dropped"))[0]).toMatchObject({
      status: "failed",
      failure: { reason: "PROVIDER_REJECTED", providerCode: "Bounced Address" },
    });
    expect(await parse("processed")).toEqual([]);
    expect(await parse("deferred")).toEqual([]);
  });

  it("rejects a signed body that is not an array of events", () => {
    const { privateKey, publicKey: ownKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const body = Buffer.from('{"event":"delivered"}');
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = sign("sha256", Buffer.concat([Buffer.from(timestamp), body]), privateKey).toString("base64");
    const ctx = {
      ...bed.ctx,
      credentials: { ...bed.ctx.credentials, event_webhook_public_key: ownKey.export({ type: "spki", format: "der" }).toString("base64") },
    };
    const input = { rawBody: body, headers: { [signatureHeader]: signature, [timestampHeader]: timestamp }, url: "" };
    return expect(sendgridConnector.parseCallback(ctx, input)).rejects.toMatchObject({
      kind: "invalid_signature",
      details: { reason: "WEBHOOK_MALFORMED" },
    });
  });
});
