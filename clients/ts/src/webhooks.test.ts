import { create, toJsonString } from "@bufbuild/protobuf";
import { base64Encode } from "@bufbuild/protobuf/wire";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { Environment } from "./gen/onerouter/common/v1/common_pb";
import { EventSchema } from "./gen/onerouter/events/v1/events_pb";
import { PaymentStatus } from "./gen/onerouter/payments/v1/payments_pb";
import { verifyWebhook, WebhookVerificationError, type WebhookHeaders } from "./index";

const newSecret = () => `whsec_${base64Encode(crypto.getRandomValues(new Uint8Array(24)))}`;
const secret = newSecret();
const sentAt = new Date("2025-06-01T12:00:00Z");

const event = create(EventSchema, {
  id: "evt_1",
  type: "payment.succeeded",
  tenantId: "ten_1",
  environment: Environment.TEST,
  createTime: timestampFromDate(sentAt),
  data: {
    case: "payment",
    value: { payment: { id: "pay_1", amount: 1999n, currency: "EUR", status: PaymentStatus.SUCCEEDED } },
  },
});
const body = toJsonString(EventSchema, event);

// Signed by the Standard Webhooks reference library, not by our code.
function signedHeaders(payload = body, signingSecret = secret, at = sentAt, id = "msg_1") {
  return {
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": new Webhook(signingSecret).sign(id, at, payload),
  };
}

async function rejection(promise: Promise<unknown>): Promise<WebhookVerificationError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WebhookVerificationError);
  return err as WebhookVerificationError;
}

describe("verifyWebhook", () => {
  it("accepts a delivery signed with the secret and returns its event", async () => {
    const verified = await verifyWebhook(body, signedHeaders(), secret, { now: sentAt });
    expect(verified.id).toBe("evt_1");
    expect(verified.type).toBe("payment.succeeded");
    expect(verified.environment).toBe(Environment.TEST);
    expect(verified.data.case).toBe("payment");
    expect(verified.data.case === "payment" && verified.data.value.payment).toMatchObject({
      id: "pay_1",
      amount: 1999n,
      currency: "EUR",
      status: PaymentStatus.SUCCEEDED,
    });
  });

  it("accepts a byte body, Fetch Headers and Node-style headers", async () => {
    const headers = signedHeaders();
    const bytes = new TextEncoder().encode(body);
    await expect(verifyWebhook(bytes, new Headers(headers), secret, { now: sentAt })).resolves.toMatchObject({ id: "evt_1" });
    const nodeStyle: WebhookHeaders = {
      "Webhook-Id": headers["webhook-id"],
      "webhook-timestamp": [headers["webhook-timestamp"]],
      "webhook-signature": headers["webhook-signature"],
      "content-type": undefined,
    };
    await expect(verifyWebhook(body, nodeStyle, secret, { now: sentAt })).resolves.toMatchObject({ id: "evt_1" });
  });

  it("ignores fields it does not know, so newer events still verify", async () => {
    const newer = JSON.stringify({ ...JSON.parse(body), addedLater: { x: 1 } });
    await expect(verifyWebhook(newer, signedHeaders(newer), secret, { now: sentAt })).resolves.toMatchObject({
      id: "evt_1",
    });
  });

  it("rejects a tampered body", async () => {
    const tampered = body.replace("1999", "9999");
    const err = await rejection(verifyWebhook(tampered, signedHeaders(), secret, { now: sentAt }));
    expect(err.message).toMatch(/signature/);
  });

  it("rejects a tampered webhook-id", async () => {
    const headers = { ...signedHeaders(), "webhook-id": "msg_2" };
    await rejection(verifyWebhook(body, headers, secret, { now: sentAt }));
  });

  it("rejects a signature made with another secret", async () => {
    await rejection(verifyWebhook(body, signedHeaders(body, newSecret()), secret, { now: sentAt }));
  });

  it("rejects stale and future timestamps beyond the tolerance, both ways", async () => {
    const headers = signedHeaders();
    const stale = await rejection(verifyWebhook(body, headers, secret, { now: new Date(sentAt.getTime() + 301_000) }));
    expect(stale.message).toMatch(/old/);
    const future = await rejection(verifyWebhook(body, headers, secret, { now: new Date(sentAt.getTime() - 301_000) }));
    expect(future.message).toMatch(/future/);
    await expect(verifyWebhook(body, headers, secret, { now: new Date(sentAt.getTime() + 299_000) })).resolves.toBeDefined();
    await expect(verifyWebhook(body, headers, secret, { now: new Date(sentAt.getTime() - 299_000) })).resolves.toBeDefined();
  });

  it("uses the given tolerance", async () => {
    const later = new Date(sentAt.getTime() + 20_000);
    await rejection(verifyWebhook(body, signedHeaders(), secret, { now: later, toleranceSeconds: 10 }));
    await expect(verifyWebhook(body, signedHeaders(), secret, { now: later, toleranceSeconds: 30 })).resolves.toBeDefined();
  });

  it("rejects a timestamp that is not a number of seconds", async () => {
    const headers = { ...signedHeaders(), "webhook-timestamp": `${sentAt.getTime() / 1000}.5` };
    const err = await rejection(verifyWebhook(body, headers, secret, { now: sentAt }));
    expect(err.message).toMatch(/webhook-timestamp/);
  });

  it.each(["webhook-id", "webhook-timestamp", "webhook-signature"])("rejects a delivery without %s", async (name) => {
    const headers: Record<string, string> = signedHeaders();
    delete headers[name];
    const err = await rejection(verifyWebhook(body, headers, secret, { now: sentAt }));
    expect(err.message).toContain(name);
  });

  it("passes when one of several signatures matches, as during secret rotation", async () => {
    const valid = signedHeaders()["webhook-signature"];
    const otherSecret = signedHeaders(body, newSecret())["webhook-signature"];
    const headers = {
      ...signedHeaders(),
      "webhook-signature": `${otherSecret} v1,not*base64 v1a,${valid.slice(3)} ${valid}`,
    };
    await expect(verifyWebhook(body, headers, secret, { now: sentAt })).resolves.toMatchObject({ id: "evt_1" });
  });

  it("does not accept a matching signature under another version", async () => {
    const valid = signedHeaders()["webhook-signature"];
    const headers = { ...signedHeaders(), "webhook-signature": valid.replace(/^v1,/, "v2,") };
    await rejection(verifyWebhook(body, headers, secret, { now: sentAt }));
  });

  it("tells a malformed secret apart from a bad delivery", async () => {
    const err = await verifyWebhook(body, signedHeaders(), "whsec_", { now: sentAt }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(WebhookVerificationError);
    expect((err as Error).message).toMatch(/secret/);
  });

  it("rejects a signed body that is not an event", async () => {
    const notJson = "hello";
    const err = await rejection(verifyWebhook(notJson, signedHeaders(notJson), secret, { now: sentAt }));
    expect(err.message).toMatch(/not JSON/);
    const notEvent = JSON.stringify({ id: 42 });
    await rejection(verifyWebhook(notEvent, signedHeaders(notEvent), secret, { now: sentAt }));
  });
});
