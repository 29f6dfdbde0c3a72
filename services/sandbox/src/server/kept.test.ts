import { describe, expect, it } from "vitest";
import type { EmulatorReply } from "../emulator-harness";
import { sandboxProvider } from "./provider";

// The sandbox keeps what it made within its limits and answers for what it
// forgot as for an id it never issued.
describe("the sandbox's memory", () => {
  const apiKey = "sk_sandbox_keptlimits0000000001";
  let clock = 0;
  const sandbox = sandboxProvider({ limits: { maxEntries: 3, maxAgeMs: 60_000 }, now: () => clock });
  const call = async (method: string, path: string, body?: object, headers: Record<string, string> = {}) =>
    (await sandbox.handle({
      method,
      path,
      query: new URLSearchParams(),
      headers: { authorization: `Bearer ${apiKey}`, ...headers },
      rawBody: Buffer.from(body ? JSON.stringify(body) : ""),
    })) as EmulatorReply & { body: { id: string; data: { id: string }[]; error?: { code: string } } };
  const createPayment = async (headers?: Record<string, string>) => (await call("POST", "/v1/payments", { amount: "500", currency: "USD" }, headers)).body.id;

  it("forgets the oldest payments beyond its count and answers them 404", async () => {
    const ids = [await createPayment(), await createPayment(), await createPayment(), await createPayment()];
    const forgotten = await call("GET", `/v1/payments/${ids[0]}`);
    expect(forgotten.status).toBe(404);
    expect(forgotten.body.error?.code).toBe("resource_missing");
    expect((await call("POST", "/v1/refunds", { payment: ids[0] })).status).toBe(404);
    expect((await call("POST", "/v1/refunds", { payment: ids[1] })).status).toBe(200);
    expect((await call("GET", "/v1/payments")).body.data.map((p) => p.id)).toEqual(ids.slice(1).reverse());
  });

  it("forgets payments and idempotent answers past their age", async () => {
    const first = await createPayment({ "idempotency-key": "order-1" });
    expect(await createPayment({ "idempotency-key": "order-1" })).toBe(first);
    clock += 60_001;
    expect((await call("GET", `/v1/payments/${first}`)).status).toBe(404);
    expect((await call("GET", "/v1/payments")).body.data).toEqual([]);
    const again = await createPayment({ "idempotency-key": "order-1" });
    expect(again).not.toBe(first);
    expect((await call("GET", `/v1/payments/${again}`)).status).toBe(200);
  });

  it("bounds messages the same way", async () => {
    const send = async () => (await call("POST", "/v1/messages", { channel: "sms", to: "+15550100", body: "hi" })).body.id;
    const ids = [await send(), await send(), await send(), await send()];
    expect((await call("GET", `/v1/messages/${ids[0]}`)).status).toBe(404);
    expect((await call("GET", `/v1/messages/${ids[3]}`)).status).toBe(200);
    clock += 60_001;
    expect((await call("GET", `/v1/messages/${ids[3]}`)).status).toBe(404);
  });
});
