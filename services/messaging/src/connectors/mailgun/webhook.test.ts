import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WebhookInput } from "@onerouter/routing";
import { webhookRejection } from "@onerouter/routing/testing";
import type { MailgunOutcome, MailgunWebhookPayload } from "@onerouter/emulators/mailgun";
import { emailInput } from "../contract";
import { mailgunConnector } from "./index";
import { startMailgunTestBed, testCredentials, webhookInput, type MailgunTestBed } from "./connector.testing";
import { verifyMailgunWebhook } from "./webhook";

function withPayload(input: WebhookInput, change: (payload: MailgunWebhookPayload) => void): WebhookInput {
  const payload = JSON.parse(input.rawBody.toString("utf8")) as MailgunWebhookPayload;
  change(payload);
  return { ...input, rawBody: Buffer.from(JSON.stringify(payload)) };
}

describe("Mailgun webhook signatures", () => {
  let bed: MailgunTestBed;
  let sent: { providerMessageId: string; attemptId: string };

  beforeAll(async () => {
    bed = await startMailgunTestBed();
    const message = emailInput();
    const result = await mailgunConnector.send(bed.ctx, message);
    sent = { providerMessageId: result.providerMessageId, attemptId: message.attemptId };
  });
  afterAll(() => bed.close());

  const report = async (outcome: MailgunOutcome, signedAt?: number) =>
    webhookInput(await bed.mailgun.reportEvent(sent.providerMessageId, outcome, signedAt ? { signedAt } : {}));
  const verify = (input: WebhookInput, key = testCredentials.webhook_signing_key) => verifyMailgunWebhook(input, key);

  it("reads the delivery with the attempt from the user variables", async () => {
    const events = await mailgunConnector.parseCallback(bed.ctx, await report("delivered"));
    expect(events).toEqual([
      {
        providerEventId: expect.stringMatching(/^[\w-]{22}$/),
        providerMessageId: sent.providerMessageId,
        attemptId: sent.attemptId,
        status: "delivered",
        occurredAt: expect.any(Date),
      },
    ]);
  });

  it("rejects a changed token or timestamp: the signature covers both", async () => {
    const callback = await report("delivered");
    const token = withPayload(callback, (p) => (p.signature.token = `${p.signature.token.slice(1)}0`));
    expect(webhookRejection(() => verify(token)).details.reason).toBe("WEBHOOK_SIGNATURE_MISMATCH");
    const moved = withPayload(callback, (p) => (p.signature.timestamp = String(Number(p.signature.timestamp) - 1)));
    expect(webhookRejection(() => verify(moved)).details.reason).toBe("WEBHOOK_SIGNATURE_MISMATCH");
  });

  it("rejects a body that is not Mailgun's JSON", async () => {
    const callback = await report("delivered");
    const appended = { ...callback, rawBody: Buffer.concat([callback.rawBody, Buffer.from("&x=1")]) };
    expect(webhookRejection(() => verify(appended)).details.reason).toBe("WEBHOOK_MALFORMED");
    const formEncoded = { ...callback, headers: { "content-type": "application/x-www-form-urlencoded" } };
    expect(webhookRejection(() => verify(formEncoded)).details.reason).toBe("WEBHOOK_MALFORMED");
    const unsigned = withPayload(callback, (p) => delete (p as Partial<MailgunWebhookPayload>).signature);
    expect(webhookRejection(() => verify(unsigned)).details.reason).toBe("WEBHOOK_SIGNATURE_MISSING");
  });

  it("rejects a signature made with another signing key", async () => {
    const callback = await report("delivered");
    expect(webhookRejection(() => verify(callback, "another-accounts-key")).details.reason).toBe("WEBHOOK_SIGNATURE_MISMATCH");
  });

  it("rejects a stale signature timestamp", async () => {
    const signedAt = Math.floor(Date.now() / 1000) - 3600;
    const callback = await report("delivered", signedAt);
    expect(webhookRejection(() => verify(callback)).details.reason).toBe("WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE");
    const options = { toleranceSeconds: 7200 };
    expect(verifyMailgunWebhook(callback, testCredentials.webhook_signing_key, options).eventData.event).toBe("delivered");
  });

  it("takes the primary account's parent-signature for a subaccount's domain", async () => {
    const subaccountSigned = withPayload(await report("delivered"), (p) => {
      const { timestamp, token } = p.signature;
      Object.assign(p.signature, {
        signature: createHmac("sha256", "subaccount-signing-key").update(timestamp + token).digest("hex"),
        "parent-signature": createHmac("sha256", testCredentials.webhook_signing_key).update(timestamp + token).digest("hex"),
      });
    });
    expect(verify(subaccountSigned).eventData.event).toBe("delivered");
  });

  it("maps permanent failures with Mailgun's code, and skips what changes nothing", async () => {
    const parse = async (outcome: MailgunOutcome) => mailgunConnector.parseCallback(bed.ctx, await report(outcome));
    expect((await parse("permanent_failure"))[0]).toMatchObject({
      status: "failed",
      failure: { reason: "MESSAGE_UNDELIVERED", providerCode: "550", message: expect.stringContaining("5.1.1") },
    });
    expect((await parse("suppressed"))[0]).toMatchObject({
      status: "failed",
      failure: { reason: "PROVIDER_REJECTED", providerCode: "605", message: "Not delivering to previously bounced address" },
    });
    expect(await parse("temporary_failure")).toEqual([]);
    expect(await parse("accepted")).toEqual([]);
  });
});
