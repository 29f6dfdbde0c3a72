import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type RunningEmulator } from "@onerouter/sandbox";
import { parseStripeParams } from "./form";
import { parseSearchQuery } from "./search";
import { stripeEmulator, type StripeEmulator } from "./index";

const secretKey = "sk_test_emulator_wire";

describe("Stripe form encoding", () => {
  it("reads bracket notation into nested values", () => {
    expect(
      parseStripeParams(
        "amount=100&metadata[order]=42&metadata[note]=a%20b&expand[0]=latest_charge&expand[1]=customer&tags[]=x&tags[]=y",
      ),
    ).toEqual({
      amount: "100",
      metadata: { order: "42", note: "a b" },
      expand: ["latest_charge", "customer"],
      tags: ["x", "y"],
    });
    expect(parseStripeParams("a[b][c]=1")).toEqual({ a: { b: { c: "1" } } });
  });
});

describe("Stripe search queries", () => {
  it("parses metadata and field clauses with either quote and escapes", () => {
    expect(parseSearchQuery(`metadata['order']:'4\\'2' AND status:"succeeded"`)).toEqual({
      join: "AND",
      clauses: [
        { field: "metadata", key: "order", value: "4'2" },
        { field: "status", value: "succeeded" },
      ],
    });
    expect(() => parseSearchQuery("status:'a' AND currency:'usd' OR amount:100")).toThrow(/mix/);
    expect(() => parseSearchQuery("email:'x'")).toThrow(/unsupported/);
  });
});

describe("Stripe emulator over HTTP", () => {
  let stripe: StripeEmulator;
  let running: RunningEmulator;
  beforeAll(async () => {
    stripe = stripeEmulator({ secretKey, webhookSecret: "whsec_wire" });
    running = await startEmulator(stripe);
  });
  afterAll(async () => {
    await running?.close();
  });

  async function call(method: string, path: string, form?: string, headers: Record<string, string> = {}) {
    const res = await fetch(`${running.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${secretKey}`,
        ...(form !== undefined && { "content-type": "application/x-www-form-urlencoded" }),
        ...headers,
      },
      ...(form !== undefined && { body: form }),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
  }

  it("answers a missing or wrong key with Stripe's 401", async () => {
    const missing = await call("GET", "/v1/balance", undefined, { authorization: "" });
    expect(missing.status).toBe(401);
    expect(missing.body.error).toMatchObject({
      type: "invalid_request_error",
      message: expect.stringContaining("did not provide an API key"),
    });
    const wrong = await call("GET", "/v1/balance", undefined, { authorization: "Bearer sk_test_wrong_key_1234" });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.message).toBe("Invalid API Key provided: sk_test_**********1234");
    const basic = await call("GET", "/v1/balance", undefined, {
      authorization: `Basic ${Buffer.from(`${secretKey}:`).toString("base64")}`,
    });
    expect(basic.status).toBe(200);
  });

  it("replays a result for the same idempotency key and rejects the key with other parameters", async () => {
    const form = "amount=1500&currency=usd&confirm=true&payment_method=pm_card_visa&metadata[order]=7";
    const first = await call("POST", "/v1/payment_intents", form, { "idempotency-key": "key-replay" });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ object: "payment_intent", status: "succeeded", amount_received: 1500 });
    // Same parameters in another order are the same request.
    const reordered = "metadata[order]=7&payment_method=pm_card_visa&confirm=true&currency=usd&amount=1500";
    const replay = await call("POST", "/v1/payment_intents", reordered, { "idempotency-key": "key-replay" });
    expect(replay.body.id).toBe(first.body.id);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    const changed = form.replace("1500", "1600");
    const reused = await call("POST", "/v1/payment_intents", changed, { "idempotency-key": "key-replay" });
    expect(reused.status).toBe(400);
    expect(reused.body.error.type).toBe("idempotency_error");
  });

  it("replays the original answer, not the object's current state", async () => {
    const form = "amount=900&currency=usd&confirm=true&payment_method=pm_card_visa&capture_method=manual";
    const first = await call("POST", "/v1/payment_intents", form, { "idempotency-key": "key-snapshot" });
    await call("POST", `/v1/payment_intents/${first.body.id}/capture`, "");
    const replay = await call("POST", "/v1/payment_intents", form, { "idempotency-key": "key-snapshot" });
    expect(replay.body).toMatchObject({ id: first.body.id, status: "requires_capture" });
  });

  it("replays a card decline, but lets a key be reused after a validation error", async () => {
    const decline = "amount=1500&currency=usd&confirm=true&payment_method=pm_card_chargeDeclined";
    const first = await call("POST", "/v1/payment_intents", decline, { "idempotency-key": "key-decline" });
    expect(first.status).toBe(402);
    expect(first.body.error).toMatchObject({
      type: "card_error",
      code: "card_declined",
      decline_code: "generic_decline",
      payment_intent: { status: "requires_payment_method" },
    });
    const again = await call("POST", "/v1/payment_intents", decline, { "idempotency-key": "key-decline" });
    expect(again.body.error.payment_intent.id).toBe(first.body.error.payment_intent.id);

    const key = { "idempotency-key": "key-fix" };
    const invalid = await call("POST", "/v1/payment_intents", "amount=12.5&currency=usd", key);
    expect(invalid.status).toBe(400);
    expect(invalid.body.error).toMatchObject({ code: "parameter_invalid_integer", param: "amount" });
    const fixed = await call("POST", "/v1/payment_intents", "amount=1250&currency=usd", key);
    expect(fixed.status).toBe(200);
    expect(fixed.body.status).toBe("requires_payment_method");
  });

  it("rejects unknown parameters and three-decimal amounts not ending in 0", async () => {
    const unknown = await call("POST", "/v1/payment_intents", "amount=100&currency=usd&amout=1");
    expect(unknown.body.error).toMatchObject({ code: "parameter_unknown", param: "amout" });
    const kwd = await call("POST", "/v1/payment_intents", "amount=1234&currency=kwd");
    expect(kwd.status).toBe(400);
    expect(kwd.body.error.param).toBe("amount");
    expect((await call("POST", "/v1/payment_intents", "amount=1230&currency=kwd")).status).toBe(200);
  });

  it("captures partially, refunds up to the captured amount and keeps the balance", async () => {
    const authorize = "amount=1000&currency=eur&confirm=true&payment_method=pm_card_visa&capture_method=manual";
    const created = await call("POST", "/v1/payment_intents", authorize);
    expect(created.body).toMatchObject({ status: "requires_capture", amount_capturable: 1000 });
    const captured = await call("POST", `/v1/payment_intents/${created.body.id}/capture`, "amount_to_capture=700");
    expect(captured.body).toMatchObject({ status: "succeeded", amount_received: 700, amount_capturable: 0 });
    const refund = await call("POST", "/v1/refunds", `payment_intent=${created.body.id}&amount=300`);
    expect(refund.body).toMatchObject({
      object: "refund",
      status: "succeeded",
      amount: 300,
      payment_intent: created.body.id,
    });
    const tooMuch = await call("POST", "/v1/refunds", `payment_intent=${created.body.id}&amount=500`);
    expect(tooMuch.status).toBe(400);
    expect(tooMuch.body.error).toMatchObject({ type: "invalid_request_error", code: "amount_too_large" });
    const balance = await call("GET", "/v1/balance");
    expect(balance.body.available).toContainEqual(expect.objectContaining({ currency: "eur", amount: 400 }));
  });

  it("searches PaymentIntents by metadata", async () => {
    const pay = "amount=100&currency=usd&confirm=true&payment_method=pm_card_visa&metadata[attempt]=att_search";
    await call("POST", "/v1/payment_intents", pay);
    const query = encodeURIComponent("metadata['attempt']:'att_search' AND status:'succeeded'");
    const found = await call("GET", `/v1/payment_intents/search?query=${query}`);
    expect(found.body).toMatchObject({ object: "search_result", has_more: false });
    expect(found.body.data).toHaveLength(1);
    const nothing = encodeURIComponent("metadata['attempt']:'nope'");
    const none = await call("GET", `/v1/payment_intents/search?query=${nothing}`);
    expect(none.body.data).toEqual([]);
  });

  it("answers unknown objects and URLs with Stripe's 404", async () => {
    const missing = await call("GET", "/v1/payment_intents/pi_missing");
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({
      code: "resource_missing",
      message: "No such payment_intent: 'pi_missing'",
    });
    const unknown = await call("GET", "/v1/nothing_here");
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toContain("Unrecognized request URL");
  });

  it("answers injected failures in Stripe's error shapes", async () => {
    await running.setFailure({ mode: "error_5xx", count: 1 });
    const server = await call("GET", "/v1/balance");
    expect(server.status).toBe(500);
    expect(server.body.error.type).toBe("api_error");
    await running.setFailure({ mode: "rate_limited", count: 1 });
    const limited = await call("GET", "/v1/balance");
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe("rate_limit");
  });
});
