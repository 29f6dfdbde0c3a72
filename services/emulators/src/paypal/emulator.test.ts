import { verify, X509Certificate } from "node:crypto";
import { crc32 } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type RunningEmulator } from "@onerouter/sandbox";
import { paypalEmulator, paypalTestTokens, type PaypalEmulator } from "./index";

const webhookId = "8PT597110X687430LKGECATA";

describe("paypal emulator", () => {
  let paypal: PaypalEmulator;
  let running: RunningEmulator;
  let bearer: string;

  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${running.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Record<string, any> };
  }

  const vaultedOrder = (value: string, currency = "USD") => ({
    intent: "CAPTURE",
    purchase_units: [{ custom_id: "att_emulator", amount: { currency_code: currency, value } }],
    payment_source: { card: { vault_id: paypalTestTokens.succeed } },
  });

  beforeAll(async () => {
    paypal = paypalEmulator();
    running = await startEmulator(paypal);
    const res = await fetch(`${running.url}/v1/oauth2/token`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${paypal.clientId}:${paypal.clientSecret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials",
    });
    const token = (await res.json()) as { access_token: string; token_type: string; expires_in: number };
    expect(token).toMatchObject({ token_type: "Bearer", expires_in: 32400 });
    bearer = token.access_token;
  });
  afterAll(async () => {
    await running?.close();
  });

  it("answers OAuth and bearer failures the way PayPal does", async () => {
    const badClient = await fetch(`${running.url}/v1/oauth2/token`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from("someone:wrong").toString("base64")}` },
      body: "grant_type=client_credentials",
    });
    expect(badClient.status).toBe(401);
    expect(await badClient.json()).toEqual({ error: "invalid_client", error_description: "Client Authentication failed" });

    const unauthenticated = await call("GET", "/v2/checkout/orders/5O190127TN364715T", undefined, { authorization: "Bearer nope" });
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.body.name).toBe("AUTHENTICATION_FAILURE");
  });

  it("uses PayPal's error shapes for injected failures", async () => {
    await running.setFailure({ mode: "error_5xx", count: 1 });
    const serverError = await call("POST", "/v2/checkout/orders", vaultedOrder("1.00"), { "paypal-request-id": "r-5xx" });
    expect(serverError.status).toBe(500);
    expect(serverError.body).toMatchObject({ name: "INTERNAL_SERVER_ERROR", debug_id: expect.any(String) });

    await running.setFailure({ mode: "rate_limited", count: 1 });
    const limited = await call("POST", "/v2/checkout/orders", vaultedOrder("1.00"), { "paypal-request-id": "r-429" });
    expect(limited.status).toBe(429);
    expect(limited.body.name).toBe("RATE_LIMIT_REACHED");
  });

  it("replays a PayPal-Request-Id and answers minimally unless asked for a representation", async () => {
    const first = await call("POST", "/v2/checkout/orders", vaultedOrder("3.00"), { "paypal-request-id": "r-replay" });
    expect(first.status).toBe(201);
    expect(Object.keys(first.body).sort()).toEqual(["id", "links", "status"]);
    const again = await call("POST", "/v2/checkout/orders", vaultedOrder("3.00"), {
      "paypal-request-id": "r-replay",
      prefer: "return=representation",
    });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(again.body.purchase_units[0].payments.captures).toHaveLength(1);
  });

  it("validates single-step orders and amounts as PayPal does", async () => {
    const noRequestId = await call("POST", "/v2/checkout/orders", vaultedOrder("1.00"));
    expect(noRequestId.status).toBe(400);
    expect(noRequestId.body.details[0].issue).toBe("PAYPAL_REQUEST_ID_REQUIRED");

    const cases: Array<[string, string, number, string]> = [
      ["500.5", "JPY", 422, "DECIMALS_NOT_SUPPORTED"],
      ["1.234", "USD", 422, "DECIMAL_PRECISION"],
      ["1.230", "KWD", 422, "CURRENCY_NOT_SUPPORTED"],
      ["0.00", "USD", 422, "CANNOT_BE_ZERO_OR_NEGATIVE"],
      ["1,00", "USD", 400, "INVALID_PARAMETER_SYNTAX"],
    ];
    for (const [value, currency, status, issue] of cases) {
      const res = await call("POST", "/v2/checkout/orders", vaultedOrder(value, currency), { "paypal-request-id": `r-${value}-${currency}` });
      expect(res.status, `${value} ${currency}`).toBe(status);
      expect(res.body.details[0].issue, `${value} ${currency}`).toBe(issue);
    }
  });

  it("signs webhooks so that the served certificate verifies them", async () => {
    const created = await call("POST", "/v2/checkout/orders", vaultedOrder("4.00"), { "paypal-request-id": "r-webhook" });
    const signed = paypal.signWebhook(paypal.webhookEvent("PAYMENT.CAPTURE.COMPLETED", created.body.id, running.url), {
      apiUrl: running.url,
      webhookId,
    });
    const h = signed.headers;
    const pem = await (await fetch(h["paypal-cert-url"] ?? "")).text();
    const certificate = new X509Certificate(pem);
    expect(certificate.verify(certificate.publicKey)).toBe(true);
    const message = `${h["paypal-transmission-id"]}|${h["paypal-transmission-time"]}|${webhookId}|${crc32(Buffer.from(signed.body))}`;
    expect(h["paypal-auth-algo"]).toBe("SHA256withRSA");
    expect(verify("sha256", Buffer.from(message), certificate.publicKey, Buffer.from(h["paypal-transmission-sig"] ?? "", "base64"))).toBe(true);

    const verification = (event: string) =>
      call(
        "POST",
        "/v1/notifications/verify-webhook-signature",
        `{"auth_algo":"${h["paypal-auth-algo"]}","cert_url":"${h["paypal-cert-url"]}","transmission_id":"${h["paypal-transmission-id"]}",` +
          `"transmission_sig":"${h["paypal-transmission-sig"]}","transmission_time":"${h["paypal-transmission-time"]}",` +
          `"webhook_id":"${webhookId}","webhook_event":${event}}`,
      );
    expect((await verification(signed.body)).body).toEqual({ verification_status: "SUCCESS" });
    const reformatted = JSON.stringify(JSON.parse(signed.body), null, 2);
    expect((await verification(reformatted)).body).toEqual({ verification_status: "FAILURE" });
  });
});
