import http from "node:http";
import type { AddressInfo } from "node:net";
import { createPublicKey, verify } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type RunningEmulator } from "@onerouter/sandbox";
import { sendgridEmulator, signatureHeader, timestampHeader, type SendGridEmulator } from "./index";

const apiKey = "SG.emulator_wire.key";

interface Received {
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

// A stand-in for the Event Webhook's HTTP POST URL.
async function startReceiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const validMail = {
  personalizations: [{ to: [{ email: "a@example.com" }, { email: "b@example.com" }], custom_args: { order: "42" } }],
  from: { email: "shop@example.com" },
  subject: "Hello",
  content: [{ type: "text/plain", value: "Hi" }],
  custom_args: { order: "41", batch: "7" },
};

describe("SendGrid emulator over HTTP", () => {
  let sendgrid: SendGridEmulator;
  let running: RunningEmulator;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    receiver = await startReceiver();
    sendgrid = sendgridEmulator({ apiKey, eventWebhookUrl: receiver.url });
    running = await startEmulator(sendgrid);
  });
  afterAll(async () => {
    await running?.close();
    await receiver?.close();
  });

  async function mailSend(body: unknown, authorization: string | null = `Bearer ${apiKey}`) {
    const res = await fetch(`${running.url}/v3/mail/send`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(authorization && { authorization }) },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as { errors: unknown[] }) : undefined };
  }

  it("answers a missing and a wrong key as SendGrid does", async () => {
    expect(await mailSend(validMail, null)).toMatchObject({
      status: 401,
      body: { errors: [{ field: null, message: "authorization required" }] },
    });
    expect((await mailSend(validMail, "Bearer SG.other.key")).body?.errors).toEqual([
      { field: null, message: "The provided authorization grant is invalid, expired, or revoked", help: null },
    ]);
  });

  it("lists every problem of a body in one answer", async () => {
    const { status, body } = await mailSend({ ...validMail, from: { email: "shop" }, personalizations: [{ to: [{ email: "x" }] }] });
    expect(status).toBe(400);
    expect(body?.errors).toEqual([
      expect.objectContaining({ field: "personalizations.0.to.0.email", message: "Does not contain a valid address." }),
      expect.objectContaining({ field: "from.email", message: "Does not contain a valid address." }),
    ]);
    expect((await mailSend("{not json")).body?.errors).toEqual([{ field: null, message: "Bad Request", help: null }]);
  });

  it("accepts with 202 and an X-Message-Id, and counts each personalization by its merged custom args", async () => {
    const { status, headers, body } = await mailSend(validMail);
    expect(status).toBe(202);
    expect(body).toBeUndefined();
    expect(headers.get("x-message-id")).toMatch(/^[\w-]{22}$/);
    expect(sendgrid.countWithCustomArg("order", "42")).toBe(1);
    expect(sendgrid.countWithCustomArg("order", "41")).toBe(0);
    expect(sendgrid.countWithCustomArg("batch", "7")).toBe(1);
  });

  it("posts a signed batch, one event a recipient, to the Event Webhook URL", async () => {
    const id = (await mailSend(validMail)).headers.get("x-message-id") as string;
    const signed = await sendgrid.reportEvents(id, "delivered");
    const posted = receiver.received.at(-1) as Received;
    expect(posted.body.toString("utf8")).toBe(signed.body);
    expect(signed.body.endsWith("}]\r\n")).toBe(true);
    expect(signed.events.map((e) => [e.email, e.event, e.order, e.batch])).toEqual([
      ["a@example.com", "delivered", "42", "7"],
      ["b@example.com", "delivered", "42", "7"],
    ]);
    expect(signed.events.every((e) => e.sg_message_id.startsWith(`${id}.`))).toBe(true);
    const key = createPublicKey({ key: Buffer.from(sendgrid.eventWebhookPublicKey, "base64"), format: "der", type: "spki" });
    const timestamp = posted.headers[timestampHeader] as string;
    const signature = Buffer.from(posted.headers[signatureHeader] as string, "base64");
    expect(verify("sha256", Buffer.concat([Buffer.from(timestamp), posted.body]), key, signature)).toBe(true);
  });
});
