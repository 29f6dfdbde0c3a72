import { describe, expect, it } from "vitest";
import { expectConnectorError, startWebhookReceiver, useTestBed } from "@onerouter/routing/testing";
import type { SendSmsInput } from "../connector";
import { answerFailure } from "./client";
import { twilioConnector } from "./index";
import { startTwilioTestBed, statusCallbackUrl, type TwilioTestBed } from "./connector.testing";

// What the connector does beyond the shared contract, against the emulator.

let counter = 0;
function sms(overrides: Partial<SendSmsInput> = {}): SendSmsInput {
  counter += 1;
  const attemptId = `matt_twilio_${Date.now().toString(36)}_${counter}`;
  return {
    attemptId,
    messageId: `msg_twilio_${counter}`,
    to: "+14155550100",
    body: "Your code is 123456",
    statusCallbackUrl: statusCallbackUrl(attemptId),
    ...overrides,
  };
}

describe("twilio connector", () => {
  const bed = useTestBed(startTwilioTestBed);

  it("sends To, Body and StatusCallback, from the account's default sender", async () => {
    const input = sms({ body: "Ünïcödé ✓" });
    const result = await twilioConnector.send(bed().ctx, input);
    expect(result.status).toBe("queued");
    expect(bed().twilio.message(result.providerMessageId)).toMatchObject({
      to: input.to,
      from: "+14155550199",
      body: "Ünïcödé ✓",
      statusCallback: input.statusCallbackUrl,
      numSegments: 1,
    });
  });

  it("sends through a Messaging Service when the sender is one", async () => {
    const service = "MG0123456789abcdef0123456789abcdef";
    const result = await twilioConnector.send(bed().ctx, sms({ from: service }));
    expect(result.status).toBe("queued");
    expect(bed().twilio.message(result.providerMessageId)).toMatchObject({ from: null, messagingServiceSid: service });
  });

  it("refuses to send without any sender, without calling Twilio", async () => {
    const before = bed().running.requestCount();
    const err = await expectConnectorError(
      twilioConnector.send({ ...bed().ctx, settings: { base_url: bed().running.url } }, sms()),
    );
    expect(err).toMatchObject({ kind: "invalid_request", details: { reason: "SENDER_REQUIRED" } });
    expect(bed().running.requestCount()).toBe(before);
  });

  it("maps Twilio's destination and sender errors by code", async () => {
    expect(await expectConnectorError(twilioConnector.send(bed().ctx, sms({ to: "+15005550002" })))).toMatchObject({
      kind: "invalid_request",
      details: { reason: "PROVIDER_REJECTED", providerCode: "21612", httpStatus: 400 },
    });
    expect(await expectConnectorError(twilioConnector.send(bed().ctx, sms({ to: "+15005550004" })))).toMatchObject({
      kind: "invalid_request",
      details: { providerCode: "21610" },
    });
    // A full sender queue: the message was not queued, another provider may send it.
    expect(await expectConnectorError(twilioConnector.send(bed().ctx, sms({ from: "+15005550008" })))).toMatchObject({
      kind: "not_processed",
      details: { reason: "PROVIDER_RATE_LIMITED", providerCode: "21611" },
    });
  });

  it("reports an unresolvable host as not sent", async () => {
    const err = await expectConnectorError(
      twilioConnector.send({ ...bed().ctx, settings: { ...bed().ctx.settings, base_url: "http://twilio.invalid" } }, sms()),
    );
    expect(err).toMatchObject({ kind: "not_processed", details: { reason: "PROVIDER_UNAVAILABLE" } });
  });

  it("parses the status callback Twilio POSTs, at the URL it called", async () => {
    const receiver = await startWebhookReceiver("/callbacks/twilio");
    try {
      const input = sms();
      const sent = await twilioConnector.send(bed().ctx, { ...input, statusCallbackUrl: statusCallbackUrl(input.attemptId, receiver.url) });
      await bed().twilio.reportStatus(sent.providerMessageId, "delivered", { deliver: true });
      await expect.poll(() => receiver.received.length).toBe(1);
    } finally {
      await receiver.close();
    }
    const callback = receiver.received[0]!;
    const [event] = await twilioConnector.parseCallback(bed().ctx, callback);
    expect(event).toMatchObject({ status: "delivered", attemptId: expect.stringMatching(/^matt_twilio_/) });
    expect(event?.providerEventId).toBe(`${event?.providerMessageId}:delivered`);
  });
});

describe("Twilio error answers", () => {
  it("fails over only where Twilio documents that nothing was sent", () => {
    expect(answerFailure(503, 20503, "Service Unavailable")).toMatchObject({
      kind: "not_processed",
      details: { reason: "PROVIDER_UNAVAILABLE", providerCode: "20503" },
    });
    // Twilio: retrying a POST that sends an SMS after a 500 may send it twice.
    expect(answerFailure(500, 20500, "Internal Server Error")).toMatchObject({
      kind: "ambiguous",
      details: { reason: "PROVIDER_UNAVAILABLE" },
    });
    expect(answerFailure(502, undefined, "Bad Gateway").kind).toBe("ambiguous");
    expect(answerFailure(429, 20429, "Too Many Requests").details.reason).toBe("PROVIDER_RATE_LIMITED");
    expect(answerFailure(401, 20003, "Authenticate")).toMatchObject({
      kind: "not_processed",
      details: { reason: "PROVIDER_AUTHENTICATION_FAILED" },
    });
    expect(answerFailure(403, 20008, "Forbidden").details.reason).toBe("PROVIDER_PERMISSION_DENIED");
    expect(answerFailure(400, 21211, "Invalid 'To'")).toMatchObject({
      kind: "invalid_request",
      details: { reason: "PROVIDER_REJECTED", providerCode: "21211" },
    });
  });
});
