import { describe, expect, it } from "vitest";
import { ConnectorError } from "@onerouter/routing";
import { expectConnectorError, startConnectionCountingProxy, startWebhookReceiver, useTestBed } from "@onerouter/routing/testing";
import type { SendSmsInput } from "../connector";
import { httpFailure } from "./client";
import { vonageConnector } from "./index";
import { sendResult, statusFailure } from "./mapping";
import { receiptUrl, startVonageTestBed, type VonageTestBed } from "./connector.testing";

// What the connector does beyond the shared contract, against the emulator.

let counter = 0;
function sms(overrides: Partial<SendSmsInput> = {}): SendSmsInput {
  counter += 1;
  const attemptId = `matt_vonage_${Date.now().toString(36)}_${counter}`;
  return {
    attemptId,
    messageId: `msg_vonage_${counter}`,
    to: "+14155550100",
    from: "+14155550199",
    body: "Your code is 123456",
    statusCallbackUrl: receiptUrl(attemptId),
    ...overrides,
  };
}

describe("vonage connector", () => {
  const bed = useTestBed(startVonageTestBed);

  it("sends numbers without '+', the attempt as client-ref, and the receipt URL", async () => {
    const input = sms();
    const result = await vonageConnector.send(bed().ctx, input);
    expect(result.status).toBe("queued");
    expect(bed().vonage.message(result.providerMessageId)).toMatchObject({
      to: "14155550100",
      from: "14155550199",
      text: input.body,
      type: "text",
      clientRef: input.attemptId,
      callback: input.statusCallbackUrl,
    });
  });

  it("sends text outside the GSM alphabet as unicode, and keeps GSM extension characters as text", async () => {
    const unicode = await vonageConnector.send(bed().ctx, sms({ body: "Ваш код 123456" }));
    expect(bed().vonage.message(unicode.providerMessageId)?.type).toBe("unicode");
    const gsm = await vonageConnector.send(bed().ctx, sms({ body: "Total: €12 [paid] {ok}" }));
    expect(bed().vonage.message(gsm.providerMessageId)?.type).toBe("text");
  });

  it("uses the account's alphanumeric default sender", async () => {
    const result = await vonageConnector.send(bed().ctx, sms({ from: "" }));
    expect(bed().vonage.message(result.providerMessageId)?.from).toBe("OneRouter");
  });

  it("names a long text by its first part, and every part's receipt by the attempt", async () => {
    const input = sms({ body: "x".repeat(200) });
    const result = await vonageConnector.send(bed().ctx, input);
    const message = bed().vonage.message(result.providerMessageId);
    expect(message?.partIds).toHaveLength(2);
    expect(message?.partIds[0]).toBe(result.providerMessageId);
    expect(await bed().sentCount(input.attemptId)).toBe(1);
    const secondPart = message?.partIds[1] as string;
    const receipt = await bed().vonage.deliveryReceipt(secondPart, "delivered");
    const events = await vonageConnector.parseCallback(bed().ctx, {
      rawBody: Buffer.from(receipt.body),
      headers: receipt.headers,
      url: receipt.url,
    });
    expect(events).toMatchObject([{ providerMessageId: secondPart, attemptId: input.attemptId, status: "delivered" }]);
  });

  it("opens a fresh connection for every call", async () => {
    const proxy = await startConnectionCountingProxy(bed().running.port);
    try {
      const ctx = { ...bed().ctx, settings: { ...bed().ctx.settings, base_url: proxy.url } };
      await vonageConnector.testCredentials(ctx);
      await vonageConnector.send(ctx, sms());
      await vonageConnector.send(ctx, sms());
      expect(proxy.connections()).toBe(3);
    } finally {
      await proxy.close();
    }
  });

  it("parses the receipt Vonage POSTs", async () => {
    const receiver = await startWebhookReceiver("/callbacks/vonage");
    try {
      const input = sms();
      const sent = await vonageConnector.send(bed().ctx, { ...input, statusCallbackUrl: receiptUrl(input.attemptId, receiver.url) });
      await bed().vonage.deliveryReceipt(sent.providerMessageId, "failed", { errCode: "2", deliver: true });
      await expect.poll(() => receiver.received.length).toBe(1);
    } finally {
      await receiver.close();
    }
    const [event] = await vonageConnector.parseCallback(bed().ctx, receiver.received[0]!);
    expect(event).toMatchObject({
      status: "undelivered",
      attemptId: expect.stringMatching(/^matt_vonage_/),
      failure: { reason: "MESSAGE_UNDELIVERED", providerCode: "2" },
    });
  });

  it("refuses an unknown signature_method setting", async () => {
    const sent = await vonageConnector.send(bed().ctx, sms());
    const receipt = await bed().vonage.deliveryReceipt(sent.providerMessageId, "delivered");
    const input = { rawBody: Buffer.from(receipt.body), headers: receipt.headers, url: receipt.url };
    const ctx = { ...bed().ctx, settings: { ...bed().ctx.settings, signature_method: "sha3" } };
    expect(await expectConnectorError(vonageConnector.parseCallback(ctx, input))).toMatchObject({
      kind: "invalid_signature",
      details: { reason: "WEBHOOK_SIGNATURE_METHOD_UNSUPPORTED" },
    });
  });
});

describe("vonage accounts", () => {
  it("reads MD5-hash-signed JSON receipts when the account is set that way", async () => {
    const bed = await startVonageTestBed({ signatureMethod: "md5hash", receiptFormat: "json" });
    try {
      const sent = await vonageConnector.send(bed.ctx, sms());
      const receipt = await bed.vonage.deliveryReceipt(sent.providerMessageId, "delivered");
      expect(receipt.headers["content-type"]).toBe("application/json");
      const events = await vonageConnector.parseCallback(bed.ctx, {
        rawBody: Buffer.from(receipt.body),
        headers: receipt.headers,
        url: receipt.url,
      });
      expect(events[0]?.status).toBe("delivered");
    } finally {
      await bed.close();
    }
  });

  it("rejects destinations outside a demo account's whitelist, and fails over when out of credit", async () => {
    const bed = await startVonageTestBed({ demoWhitelist: ["14155550100"], balance: 0.01 });
    try {
      expect(await expectConnectorError(vonageConnector.send(bed.ctx, sms({ to: "+14155550111" })))).toMatchObject({
        kind: "invalid_request",
        details: { reason: "PROVIDER_REJECTED", providerCode: "29" },
      });
      await vonageConnector.send(bed.ctx, sms());
      const broke = sms();
      expect(await expectConnectorError(vonageConnector.send(bed.ctx, broke))).toMatchObject({
        kind: "not_processed",
        details: { reason: "PROVIDER_QUOTA_EXCEEDED", providerCode: "9" },
      });
      expect(await bed.sentCount(broke.attemptId)).toBe(0);
    } finally {
      await bed.close();
    }
  });
});

describe("Vonage answers", () => {
  it("fails over on statuses that leave the message unqueued for account or platform reasons", () => {
    for (const [status, reason] of [
      ["1", "PROVIDER_RATE_LIMITED"],
      ["4", "PROVIDER_AUTHENTICATION_FAILED"],
      ["5", "PROVIDER_UNAVAILABLE"],
      ["9", "PROVIDER_QUOTA_EXCEEDED"],
    ]) {
      expect(statusFailure(status as string, "x"), status).toMatchObject({
        kind: "not_processed",
        details: { reason, providerCode: status },
      });
    }
    for (const status of ["2", "3", "6", "7", "15", "29"]) {
      expect(statusFailure(status, "x"), status).toMatchObject({
        kind: "invalid_request",
        details: { reason: "PROVIDER_REJECTED", providerCode: status },
      });
    }
  });

  it("reports a text only partly queued as a failed answer, not something to send again", () => {
    expect(
      sendResult([
        { status: "0", messageId: "P1" },
        { status: "1", errorText: "Throughput Rate Exceeded" },
      ]),
    ).toMatchObject({
      providerMessageId: "P1",
      status: "failed",
      failure: { reason: "MESSAGE_PARTIALLY_SENT", providerCode: "1" },
    });
    expect(() => sendResult([])).toThrow(ConnectorError);
  });

  it("treats an HTTP 5xx, which the SMS API does not document, as ambiguous", () => {
    expect(httpFailure(500)).toMatchObject({ kind: "ambiguous", details: { reason: "PROVIDER_UNAVAILABLE" } });
    expect(httpFailure(429)).toMatchObject({ kind: "not_processed", details: { reason: "PROVIDER_RATE_LIMITED" } });
    expect(httpFailure(401)).toMatchObject({
      kind: "not_processed",
      details: { reason: "PROVIDER_AUTHENTICATION_FAILED" },
    });
  });
});
