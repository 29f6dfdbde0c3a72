import { SMS } from "@vonage/sms";
import { signVonageParams } from "@onerouter/emulators/vonage";
import { describe, expect, it } from "vitest";
import type { WebhookInput } from "@onerouter/routing";
import { webhookRejection } from "@onerouter/routing/testing";
import {
  parseVonageReceipt,
  signatureMethods,
  verifyVonageReceipt,
  vonageSignature,
  type VonageSignatureMethod,
} from "./webhook";

// Known answers from the test data of Vonage's Node SDK (@vonage/sms): one
// inbound message's parameters signed with each method.
const published = {
  secret: "my_secret_key_for_testing",
  params: {
    "message-timestamp": "2013-11-21 15:27:30",
    messageId: "020000001B0FE827",
    msisdn: "14843472194",
    text: "Test again",
    timestamp: "1385047698",
    to: "13239877404",
    type: "text",
  } as Record<string, string>,
  signatures: {
    md5hash: "d2e7b1dc968737c5998ad624e02f90b7",
    md5hmac: "DDEBD46008C2D4E93CCE578A332A52D5",
    sha1hmac: "27D0D05C2876C7CB1720DBCDBA4D492E1E55C09A",
    sha256hmac: "DDB8397C2B90AAC7F3882D306475C9A5058C92322EEF43C92B298B6E0FC0D330",
    sha512hmac:
      "E0D3C650F8C9D1A5C174D10DDDBFB003E561F59B265616208B0487C5D819481CD3C311D59CF6165ECD1139622D5BA3A256C0D763AC4A9AD9144B5A426B94FE82",
  } satisfies Record<VonageSignatureMethod, string>,
};
const signedAt = Number(published.params.timestamp);

function formInput(params: Record<string, string>): WebhookInput {
  return {
    rawBody: Buffer.from(new URLSearchParams(params).toString()),
    headers: { "content-type": "application/x-www-form-urlencoded" },
    url: "https://onerouter.test/callbacks/vonage",
  };
}

describe("Vonage signatures", () => {
  it.each(signatureMethods)("%s matches the published signature, in the connector and the emulator", (method) => {
    const expected = published.signatures[method];
    expect(vonageSignature(published.params, published.secret, method).toString("hex")).toBe(expected.toLowerCase());
    expect(signVonageParams(published.params, published.secret, method)).toBe(expected);
    const signed = formInput({ ...published.params, sig: expected });
    expect(verifyVonageReceipt(signed, published.secret, method, signedAt)).toMatchObject(published.params);
  });

  it("agrees with the SDK's own verifier on a receipt the emulator signed", () => {
    const sms = new SMS({ apiKey: "k", apiSecret: "s" });
    // The SDK's enum spells the same method names in upper case.
    type SdkAlgorithm = Parameters<typeof sms.verifySignature>[3];
    for (const method of signatureMethods) {
      const params = { ...published.params, "err-code": "a=b&c", sig: "" };
      params.sig = signVonageParams(params, published.secret, method);
      const algorithm = method.toUpperCase() as SdkAlgorithm;
      expect(sms.verifySignature(params.sig, params, published.secret, algorithm), method).toBe(true);
      expect(() => verifyVonageReceipt(formInput(params), published.secret, method, signedAt)).not.toThrow();
    }
  });

  it("rejects a wrong secret or method, a changed or added parameter, and a missing or garbled sig", () => {
    const sig = published.signatures.sha256hmac;
    const verify =
      (params: Record<string, string>, secret = published.secret, method: VonageSignatureMethod = "sha256hmac") =>
      () =>
        verifyVonageReceipt(formInput(params), secret, method, signedAt);
    expect(webhookRejection(verify({ ...published.params, sig }, "another secret")).details.reason).toBe("WEBHOOK_SIGNATURE_MISMATCH");
    expect(webhookRejection(verify({ ...published.params, sig }, published.secret, "sha512hmac")).details.reason).toBe(
      "WEBHOOK_SIGNATURE_MISMATCH",
    );
    expect(webhookRejection(verify({ ...published.params, text: "Test", sig })).details.reason).toBe("WEBHOOK_SIGNATURE_MISMATCH");
    expect(webhookRejection(verify({ ...published.params, status: "delivered", sig })).details.reason).toBe("WEBHOOK_SIGNATURE_MISMATCH");
    expect(webhookRejection(verify({ ...published.params, sig: "not hex" })).details.reason).toBe("WEBHOOK_SIGNATURE_MISMATCH");
    expect(webhookRejection(verify(published.params)).details.reason).toBe("WEBHOOK_SIGNATURE_MISSING");
  });

  it("rejects a receipt signed more than a day ago or in the future", () => {
    const input = formInput({ ...published.params, sig: published.signatures.sha256hmac });
    const day = 24 * 60 * 60;
    expect(() => verifyVonageReceipt(input, published.secret, "sha256hmac", signedAt + day)).not.toThrow();
    for (const now of [signedAt + day + 1, signedAt - 301]) {
      expect(webhookRejection(() => verifyVonageReceipt(input, published.secret, "sha256hmac", now)).details.reason).toBe(
        "WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE",
      );
    }
    const untimed: Record<string, string> = { ...published.params };
    delete untimed.timestamp;
    untimed.sig = signVonageParams(untimed, published.secret, "sha256hmac");
    expect(webhookRejection(() => verifyVonageReceipt(formInput(untimed), published.secret, "sha256hmac", signedAt)).details.reason).toBe(
      "WEBHOOK_SIGNATURE_MALFORMED",
    );
  });

  it("reads JSON bodies, and no body of undeclared type", () => {
    const params = { ...published.params, sig: published.signatures.md5hash };
    const json: WebhookInput = {
      rawBody: Buffer.from(JSON.stringify(params)),
      headers: { "content-type": "application/json; charset=utf-8" },
      url: "https://onerouter.test/callbacks/vonage",
    };
    expect(verifyVonageReceipt(json, published.secret, "md5hash", signedAt)).toEqual(params);
    const array = { ...json, rawBody: Buffer.from("[1]") };
    expect(webhookRejection(() => verifyVonageReceipt(array, published.secret, "md5hash")).details.reason).toBe("WEBHOOK_MALFORMED");
    expect(webhookRejection(() => verifyVonageReceipt({ ...json, headers: {} }, published.secret, "md5hash")).details.reason).toBe(
      "WEBHOOK_MALFORMED",
    );
  });
});

describe("parseVonageReceipt", () => {
  const receipt = (status: string, extra: Record<string, string> = {}) =>
    parseVonageReceipt({ messageId: "0A00000012345678", status, "client-ref": "matt_1", ...extra });

  it("names the part, the attempt from client-ref, and a dedupe key per status", () => {
    expect(receipt("delivered", { "err-code": "0" })).toEqual([
      {
        providerEventId: "0A00000012345678:delivered",
        providerMessageId: "0A00000012345678",
        attemptId: "matt_1",
        status: "delivered",
      },
    ]);
    expect(receipt("accepted")[0]?.status).toBe("sent");
    expect(receipt("buffered")[0]?.status).toBe("sent");
  });

  it("reports failed, expired and rejected messages with Vonage's err-code", () => {
    expect(receipt("failed", { "err-code": "3" })[0]).toMatchObject({
      status: "undelivered",
      failure: { reason: "MESSAGE_UNDELIVERED", providerCode: "3" },
    });
    expect(receipt("expired", { "err-code": "1" })[0]).toMatchObject({
      status: "undelivered",
      failure: { reason: "MESSAGE_EXPIRED", providerCode: "1" },
    });
    expect(receipt("rejected", { "err-code": "6" })[0]).toMatchObject({
      status: "failed",
      failure: { reason: "MESSAGE_REJECTED", providerCode: "6" },
    });
  });

  it("ignores unknown statuses and rejects receipts without a message", () => {
    expect(receipt("unknown")).toEqual([]);
    expect(webhookRejection(() => parseVonageReceipt({ status: "delivered" })).details.reason).toBe("WEBHOOK_MALFORMED");
  });
});
