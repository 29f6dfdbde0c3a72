import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectConnectorError } from "@onerouter/routing/testing";
import { emailInput } from "../contract";
import { mailgunConnector } from "./index";
import { startMailgunTestBed, type MailgunTestBed } from "./connector.testing";

describe("Mailgun connector", () => {
  let bed: MailgunTestBed;
  beforeAll(async () => {
    bed = await startMailgunTestBed();
  });
  afterAll(() => bed.close());

  it("sends the form Mailgun reads, with the ids as user variables", async () => {
    const message = emailInput({
      to: [{ email: "jane@example.com", name: 'Doe, "Jane"' }, { email: "john@example.com" }],
      bcc: [{ email: "audit@example.com" }],
      replyTo: { email: "support@example.com", name: "Support" },
    });
    const result = await mailgunConnector.send(bed.ctx, message);
    expect(result).toEqual({ providerMessageId: expect.stringMatching(/^\d{14}\.[0-9a-f]{16}@mg\.example\.com$/), status: "queued" });
    expect(bed.mailgun.message(result.providerMessageId)).toMatchObject({
      from: "Example <noreply@example.com>",
      to: [{ email: "jane@example.com", name: 'Doe, "Jane"' }, { email: "john@example.com" }],
      cc: [{ email: "cc@example.com" }],
      bcc: [{ email: "audit@example.com" }],
      subject: "Your receipt",
      text: "Thanks for your order.",
      html: "<p>Thanks for your order.</p>",
      headers: { "Reply-To": '"Support" <support@example.com>' },
      variables: { onerouter_attempt_id: message.attemptId, onerouter_message_id: message.messageId },
    });
  });

  it("passes Mailgun's 400 sentence on as an invalid request", async () => {
    const err = await expectConnectorError(mailgunConnector.send(bed.ctx, emailInput({ from: { email: "noreply" } })));
    expect(err.kind).toBe("invalid_request");
    expect(err.details).toMatchObject({ reason: "PROVIDER_REJECTED", providerCode: "400", httpStatus: 400 });
    expect(err.message).toBe("'from' parameter is not a valid address. please check documentation");
  });

  it("refuses a message without a body before calling Mailgun", async () => {
    const before = bed.running.requestCount();
    const err = await expectConnectorError(mailgunConnector.send(bed.ctx, emailInput({ text: undefined, html: "" })));
    expect(err).toMatchObject({ kind: "invalid_request", details: { reason: "EMAIL_BODY_REQUIRED" } });
    expect(bed.running.requestCount()).toBe(before);
  });

  it("fails over from a domain the key does not own", async () => {
    const ctx = { ...bed.ctx, credentials: { ...bed.ctx.credentials, domain: "mg.other.example" } };
    const sent = await expectConnectorError(mailgunConnector.send(ctx, emailInput()));
    expect(sent).toMatchObject({ kind: "not_processed", details: { reason: "PROVIDER_AUTHENTICATION_FAILED", httpStatus: 404 } });
    expect(sent.message).toBe("Domain not found: mg.other.example");
    const tested = await expectConnectorError(mailgunConnector.testCredentials(ctx));
    expect(tested.details.reason).toBe("PROVIDER_AUTHENTICATION_FAILED");
  });

  it("treats an unresolvable host as not processed", async () => {
    const ctx = { ...bed.ctx, settings: { base_url: "http://mailgun.invalid" } };
    const err = await expectConnectorError(mailgunConnector.send(ctx, emailInput()));
    expect(err).toMatchObject({ kind: "not_processed", details: { reason: "PROVIDER_UNAVAILABLE" } });
  });
});
