import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type RunningEmulator } from "@onerouter/sandbox";
import { parseAddressList } from "./addresses";
import { mailgunEmulator, mailgunSignature, type MailgunEmulator, type MailgunWebhookPayload } from "./index";

const apiKey = "key-emulator-wire";
const signingKey = "emulator-wire-signing-key";
const domain = "mg.example.com";

describe("Mailgun address lists", () => {
  it("splits on commas outside quotes and angle brackets", () => {
    expect(parseAddressList(['"Doe, Jane" <jane@example.com>, john@example.com', "Ann <ann@example.com>"])).toEqual([
      { email: "jane@example.com", name: "Doe, Jane" },
      { email: "john@example.com" },
      { email: "ann@example.com", name: "Ann" },
    ]);
    expect(parseAddressList(['"A \\"B\\"" <ab@example.com>'])).toEqual([{ email: "ab@example.com", name: 'A "B"' }]);
    expect(parseAddressList(["jane@example.com, not-an-address"])).toBeUndefined();
  });
});

describe("Mailgun emulator over HTTP", () => {
  let mailgun: MailgunEmulator;
  let running: RunningEmulator;
  let server: http.Server;
  const posted: string[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        posted.push(Buffer.concat(chunks).toString("utf8"));
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const webhookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mailgun`;
    mailgun = mailgunEmulator({ apiKey, domain, webhookSigningKey: signingKey, webhookUrl });
    running = await startEmulator(mailgun);
  });
  afterAll(async () => {
    await running?.close();
    await new Promise((resolve) => server.close(resolve));
  });

  async function send(form: Record<string, string>, key = apiKey) {
    const res = await fetch(`${running.url}/v3/${domain}/messages`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from(`api:${key}`).toString("base64")}` },
      body: new URLSearchParams(form),
    });
    return { status: res.status, text: await res.text() };
  }

  const message = { from: "Shop <shop@example.com>", to: "a@example.com, B <b@example.com>", subject: "Hi", text: "Hello", "v:order": "42" };

  it("answers a wrong key with a bare Forbidden", async () => {
    expect(await send(message, "key-other")).toEqual({ status: 401, text: "Forbidden" });
  });

  it("answers missing and invalid parameters with Mailgun's sentences", async () => {
    expect(JSON.parse((await send({ ...message, subject: "" })).text)).toEqual({ message: "subject parameter is missing" });
    expect(JSON.parse((await send({ ...message, to: "nobody" })).text)).toEqual({
      message: "'to' parameter is not a valid address. please check documentation",
    });
  });

  it("queues a form-encoded message and posts its signed event to the webhook URL", async () => {
    const { status, text } = await send(message);
    expect(status).toBe(200);
    const { id, message: answer } = JSON.parse(text) as { id: string; message: string };
    expect(answer).toBe("Queued. Thank you.");
    expect(id).toMatch(/^<\d{14}\.[0-9a-f]{16}@mg\.example\.com>$/);
    expect(mailgun.countWithVariable("order", "42")).toBe(1);
    expect(mailgun.message(id)?.to).toEqual([{ email: "a@example.com" }, { email: "b@example.com", name: "B" }]);

    const signed = await mailgun.reportEvent(id, "delivered", { recipient: "b@example.com" });
    expect(posted.at(-1)).toBe(signed.body);
    const payload = JSON.parse(signed.body) as MailgunWebhookPayload;
    const { timestamp, token, signature } = payload.signature;
    expect(signature).toBe(mailgunSignature(signingKey, timestamp, token));
    expect(payload["event-data"]).toMatchObject({
      event: "delivered",
      recipient: "b@example.com",
      message: { headers: { "message-id": id.slice(1, -1) } },
      "user-variables": { order: "42" },
    });
  });
});
