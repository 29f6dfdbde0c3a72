import { signTwilioRequest } from "@onerouter/emulators/twilio";
import { describe, expect, it } from "vitest";
import type { WebhookInput } from "@onerouter/routing";
import { webhookRejection } from "@onerouter/routing/testing";
import { parseTwilioCallback, verifyTwilioCallback } from "./webhook";

// Twilio's documented request-validation example.
const documented = {
  authToken: "12345",
  url: "https://mycompany.com/myapp.php?foo=1&bar=2",
  params: {
    CallSid: "CA1234567890ABCDE",
    Caller: "+14158675309",
    Digits: "1234",
    From: "+14158675309",
    To: "+18005551212",
  } as Record<string, string>,
  signature: "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
};

function request(params: Record<string, string>, signature: string | undefined, url = documented.url): WebhookInput {
  return {
    rawBody: Buffer.from(new URLSearchParams(params).toString()),
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      ...(signature !== undefined && { "x-twilio-signature": signature }),
    },
    url,
  };
}

describe("X-Twilio-Signature", () => {
  it("the emulator signs Twilio's documented example to the documented signature", () => {
    expect(signTwilioRequest(documented.authToken, documented.url, documented.params)).toBe(documented.signature);
  });

  it("the connector accepts the documented example, in any parameter order", () => {
    const reordered = Object.fromEntries(Object.entries(documented.params).reverse());
    expect(verifyTwilioCallback(request(reordered, documented.signature), documented.authToken)).toEqual(
      documented.params,
    );
  });

  it("accepts a signature over the URL with its default port spelled out", () => {
    const signature = signTwilioRequest(
      documented.authToken,
      "https://mycompany.com:443/myapp.php?foo=1&bar=2",
      documented.params,
    );
    expect(() => verifyTwilioCallback(request(documented.params, signature), documented.authToken)).not.toThrow();
  });

  it("rejects a changed parameter, an added one, another URL, another token and a missing header", () => {
    const verify = (input: WebhookInput, token = documented.authToken) => () => verifyTwilioCallback(input, token);
    expect(webhookRejection(verify(request({ ...documented.params, Digits: "9999" }, documented.signature))).details.reason).toBe(
      "WEBHOOK_SIGNATURE_MISMATCH",
    );
    expect(webhookRejection(verify(request({ ...documented.params, Extra: "1" }, documented.signature))).details.reason).toBe(
      "WEBHOOK_SIGNATURE_MISMATCH",
    );
    expect(
      webhookRejection(verify(request(documented.params, documented.signature, `${documented.url}&attempt=other`))).details.reason,
    ).toBe("WEBHOOK_SIGNATURE_MISMATCH");
    expect(webhookRejection(verify(request(documented.params, documented.signature), "54321")).details.reason).toBe(
      "WEBHOOK_SIGNATURE_MISMATCH",
    );
    expect(webhookRejection(verify(request(documented.params, undefined))).details.reason).toBe("WEBHOOK_SIGNATURE_MISSING");
  });
});

describe("parseTwilioCallback", () => {
  const url = "https://onerouter.test/callbacks/twilio?attempt=matt_1";
  const callback = (status: string, extra: Record<string, string> = {}) =>
    parseTwilioCallback(url, { MessageSid: "SM1", MessageStatus: status, ...extra });

  it("names the message, the attempt from the signed URL, and a dedupe key per status", () => {
    expect(callback("sent")).toEqual([
      { providerEventId: "SM1:sent", providerMessageId: "SM1", attemptId: "matt_1", status: "sent" },
    ]);
    const withoutAttempt = { MessageSid: "SM1", MessageStatus: "delivered" };
    expect(parseTwilioCallback("https://onerouter.test/cb", withoutAttempt)).toEqual([
      { providerEventId: "SM1:delivered", providerMessageId: "SM1", status: "delivered" },
    ]);
  });

  it("reports undelivered and failed messages with Twilio's error code", () => {
    expect(callback("undelivered", { ErrorCode: "30003" })[0]).toMatchObject({
      status: "undelivered",
      failure: { reason: "MESSAGE_UNDELIVERED", providerCode: "30003" },
    });
    expect(callback("failed", { ErrorCode: "30001" })[0]).toMatchObject({
      status: "failed",
      failure: { reason: "MESSAGE_FAILED", providerCode: "30001" },
    });
    expect(callback("canceled")[0]).toMatchObject({ status: "failed", failure: { reason: "MESSAGE_FAILED" } });
  });

  it("ignores statuses of inbound messages and rejects callbacks without a message", () => {
    expect(callback("received")).toEqual([]);
    expect(webhookRejection(() => parseTwilioCallback(url, { MessageStatus: "sent" })).details.reason).toBe("WEBHOOK_MALFORMED");
  });
});
