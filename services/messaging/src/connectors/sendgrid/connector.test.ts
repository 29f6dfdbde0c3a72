import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectConnectorError } from "@onerouter/routing/testing";
import { emailInput } from "../contract";
import { sendgridConnector } from "./index";
import { startSendGridTestBed, type SendGridTestBed } from "./connector.testing";

describe("SendGrid connector", () => {
  let bed: SendGridTestBed;
  beforeAll(async () => {
    bed = await startSendGridTestBed({ verifiedSenders: ["example.com"] });
  });
  afterAll(() => bed.close());

  it("sends one personalization with names, reply-to, both bodies and the ids as its custom args", async () => {
    const message = emailInput({ replyTo: { email: "support@example.com", name: "Support" } });
    const result = await sendgridConnector.send(bed.ctx, message);
    expect(result).toEqual({ providerMessageId: expect.stringMatching(/^[\w-]{22}$/), status: "queued" });
    expect(bed.sendgrid.message(result.providerMessageId)?.request).toEqual({
      personalizations: [
        {
          to: [{ email: "buyer@example.com", name: "Buyer" }],
          cc: [{ email: "cc@example.com" }],
          bcc: [],
          // SendGrid's spec has custom_args as an object per personalization; at the top level it is a string.
          custom_args: { onerouter_attempt_id: message.attemptId, onerouter_message_id: message.messageId },
        },
      ],
      from: { email: "noreply@example.com", name: "Example" },
      reply_to: { email: "support@example.com", name: "Support" },
      subject: "Your receipt",
      content: [
        { type: "text/plain", value: "Thanks for your order." },
        { type: "text/html", value: "<p>Thanks for your order.</p>" },
      ],
      custom_args: {},
    });
  });

  it("passes SendGrid's validation errors on with the field as the code", async () => {
    const err = await expectConnectorError(sendgridConnector.send(bed.ctx, emailInput({ cc: [{ email: "Buyer@example.com" }] })));
    expect(err.kind).toBe("invalid_request");
    expect(err.details).toMatchObject({ reason: "PROVIDER_REJECTED", providerCode: "personalizations.0.cc", httpStatus: 400 });
    expect(err.message).toContain("unique between to, cc, and bcc");
  });

  it("answers a body over 30 MB as an invalid request", async () => {
    const message = emailInput({ html: "x".repeat(31 * 1024 * 1024) });
    const err = await expectConnectorError(sendgridConnector.send(bed.ctx, message));
    expect(err.kind).toBe("invalid_request");
    expect(err.details.httpStatus).toBe(413);
    expect(await bed.sentCount(message.attemptId)).toBe(0);
  });

  it("refuses a message without a body before calling SendGrid", async () => {
    const before = bed.running.requestCount();
    const err = await expectConnectorError(sendgridConnector.send(bed.ctx, emailInput({ text: "", html: undefined })));
    expect(err).toMatchObject({ kind: "invalid_request", details: { reason: "EMAIL_BODY_REQUIRED" } });
    expect(bed.running.requestCount()).toBe(before);
  });

  it("fails over from a sender without a verified Sender Identity", async () => {
    const message = emailInput({ from: { email: "noreply@unverified.test" } });
    const err = await expectConnectorError(sendgridConnector.send(bed.ctx, message));
    expect(err.kind).toBe("not_processed");
    expect(err.details).toMatchObject({ reason: "PROVIDER_SENDER_NOT_VERIFIED", providerCode: "from", httpStatus: 403 });
  });

  it("passes on when SendGrid's rate limit window resets", async () => {
    await bed.running.setFailure({ mode: "rate_limited", count: 1 });
    const err = await expectConnectorError(sendgridConnector.send(bed.ctx, emailInput()));
    expect(err.details.reason).toBe("PROVIDER_RATE_LIMITED");
    expect(err.details.retryAfterMs).toBeGreaterThanOrEqual(0);
    expect(err.details.retryAfterMs).toBeLessThanOrEqual(2_000);
  });

  it("treats an unresolvable host as not processed", async () => {
    const ctx = { ...bed.ctx, settings: { base_url: "http://sendgrid.invalid" } };
    const err = await expectConnectorError(sendgridConnector.send(ctx, emailInput()));
    expect(err).toMatchObject({ kind: "not_processed", details: { reason: "PROVIDER_UNAVAILABLE" } });
  });

  it("rejects a malformed event webhook key when credentials are tested", async () => {
    const ctx = { ...bed.ctx, credentials: { ...bed.ctx.credentials, event_webhook_public_key: "not-a-key" } };
    const err = await expectConnectorError(sendgridConnector.testCredentials(ctx));
    expect(err).toMatchObject({ kind: "invalid_request", details: { reason: "WEBHOOK_SECRET_INVALID" } });
  });
});

describe("SendGrid connector with a restricted API key", () => {
  let bed: SendGridTestBed;
  beforeAll(async () => {
    bed = await startSendGridTestBed({ scopes: ["stats.read"] });
  });
  afterAll(() => bed.close());

  it("finds the missing Mail Send scope when testing credentials, and sends nothing", async () => {
    const tested = await expectConnectorError(sendgridConnector.testCredentials(bed.ctx));
    expect(tested).toMatchObject({ kind: "not_processed", details: { reason: "PROVIDER_AUTHENTICATION_FAILED" } });
    const message = emailInput();
    const sent = await expectConnectorError(sendgridConnector.send(bed.ctx, message));
    expect(sent).toMatchObject({ kind: "not_processed", details: { reason: "PROVIDER_AUTHENTICATION_FAILED", httpStatus: 403 } });
    expect(await bed.sentCount(message.attemptId)).toBe(0);
  });
});
