import { afterAll, beforeAll, expect, it } from "vitest";
import { RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { MessageStatus } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import type { WebhookInput } from "@onerouter/routing";
import { inboundWebhookPath } from "@onerouter/routing";
import { describeEachEngine } from "@onerouter/core/testing";
import type { MessagingHarness } from "./connectors/contract";
import { startMailgunTestBed } from "./connectors/mailgun/connector.testing";
import { sandboxEmailConnector, sandboxSmsConnector } from "./connectors/sandbox/index";
import { startSandboxTestBed } from "./connectors/sandbox/connector.testing";
import { startSendGridTestBed } from "./connectors/sendgrid/connector.testing";
import { startTwilioTestBed } from "./connectors/twilio/connector.testing";
import { startVonageTestBed } from "./connectors/vonage/connector.testing";
import { addAccount, messageEvents, newTenant, setRoutingProfile, type TestTenant, startTestMessagingRoom, type TestMessagingRoom } from "../test/index";

// Delivery callbacks through the real HTTP route, for every provider: a
// genuine one is applied once (a repeat is acknowledged and changes
// nothing), and anything not signed by the account's provider is refused.

// Each provider's callback with its signature taken out: the signature
// headers for most, the signing fields of the body for Vonage and Mailgun.
type Unsigned = (genuine: WebhookInput) => Pick<WebhookInput, "rawBody" | "headers">;
const withoutSignatureHeaders: Unsigned = (genuine) => ({
  rawBody: genuine.rawBody,
  headers: { "content-type": genuine.headers["content-type"] ?? "application/json" },
});
const withoutVonageSig: Unsigned = (genuine) => {
  if (genuine.headers["content-type"]?.startsWith("application/json")) {
    const { sig: _sig, ...params } = JSON.parse(genuine.rawBody.toString("utf8")) as Record<string, unknown>;
    return { rawBody: Buffer.from(JSON.stringify(params)), headers: genuine.headers };
  }
  const params = new URLSearchParams(genuine.rawBody.toString("utf8"));
  params.delete("sig");
  return { rawBody: Buffer.from(params.toString()), headers: genuine.headers };
};
const withoutMailgunSignature: Unsigned = (genuine) => {
  const { signature: _signature, ...rest } = JSON.parse(genuine.rawBody.toString("utf8")) as Record<string, unknown>;
  return { rawBody: Buffer.from(JSON.stringify(rest)), headers: genuine.headers };
};

const providers: { name: string; start: () => Promise<MessagingHarness>; unsigned: Unsigned }[] = [
  { name: "twilio", start: startTwilioTestBed, unsigned: withoutSignatureHeaders },
  { name: "vonage", start: () => startVonageTestBed(), unsigned: withoutVonageSig },
  { name: "sendgrid", start: () => startSendGridTestBed(), unsigned: withoutSignatureHeaders },
  { name: "mailgun", start: () => startMailgunTestBed(), unsigned: withoutMailgunSignature },
  { name: "sandbox_sms", start: () => startSandboxTestBed(sandboxSmsConnector), unsigned: withoutSignatureHeaders },
  { name: "sandbox_email", start: () => startSandboxTestBed(sandboxEmailConnector), unsigned: withoutSignatureHeaders },
];

describeEachEngine("messaging delivery callbacks", (engine) => {
  let app: TestMessagingRoom;
  const beds = new Map<string, MessagingHarness>();

  beforeAll(async () => {
    // Accounts cached until a change notice, as the product serves them.
    app = await startTestMessagingRoom(engine, undefined, { changeNotices: true });
    for (const { name, start } of providers) beds.set(name, await start());
  });
  afterAll(async () => {
    await app?.close();
    for (const bed of beds.values()) await bed.close();
  });

  async function post(url: string, callback: Pick<WebhookInput, "rawBody" | "headers">) {
    const res = await fetch(url, { method: "POST", body: new Uint8Array(callback.rawBody), headers: callback.headers });
    return { status: res.status, body: (await res.json()) as { duplicate?: boolean } };
  }

  // A tenant whose only account is at this provider, and a message sent through it.
  async function sentThrough(name: string, bed: MessagingHarness): Promise<{ tenant: TestTenant; accountId: string; messageId: string; providerMessageId: string }> {
    const tenant = await newTenant(app, `Callbacks ${name}`);
    const { id } = await addAccount(app, tenant.id, name, bed.ctx.credentials, bed.ctx.settings);
    await setRoutingProfile(app, tenant.id, { strategy: RoutingStrategy.PRIORITY, targets: [{ providerAccountId: id }] });
    const content =
      bed.connector.channel === "sms"
        ? { case: "sms" as const, value: { to: "+14155550100", body: "Your code is 123456" } }
        : { case: "email" as const, value: { from: { email: "shop@example.com" }, to: [{ email: "buyer@example.com" }], subject: "Receipt", text: "Thanks." } };
    const { message } = await tenant.client.sendMessage({ content });
    expect([MessageStatus.SENT, MessageStatus.DELIVERED], name).toContain(message?.status);
    return { tenant, accountId: id, messageId: message!.id, providerMessageId: message!.providerMessageId };
  }

  for (const { name, unsigned } of providers) {
    it(`${name}: refuses forged callbacks with 400 and applies a genuine one once`, async () => {
      const bed = beds.get(name)!;
      const { tenant, accountId, messageId, providerMessageId } = await sentThrough(name, bed);
      const genuine = await bed.deliveryCallback(providerMessageId, "delivered");
      // Providers that sign the URL were given this server's own; the others post where their dashboard says.
      const ownUrl = `${app.baseUrl}${inboundWebhookPath(name, accountId)}`;
      const url = genuine.url.startsWith(ownUrl) ? genuine.url : ownUrl;

      const tampered = { ...genuine, rawBody: Buffer.concat([genuine.rawBody, Buffer.from("&x=1")]) };
      expect((await post(url, tampered)).status, "tampered body").toBe(400);
      expect((await post(url, unsigned(genuine))).status, "unsigned").toBe(400);
      // Signed, but for the account it was sent through, not this one.
      const other = await addAccount(app, tenant.id, name, bed.badCredentialsCtx.credentials, bed.ctx.settings);
      expect((await post(url.replace(accountId, other.id), genuine)).status, "another account").toBe(400);
      expect((await post(url.replace(accountId, "pa_unknown"), genuine)).status, "unknown account").toBe(404);

      expect(await post(url, genuine)).toEqual({ status: 200, body: { received: true, duplicate: false } });
      const { message } = await tenant.client.getMessage({ id: messageId });
      expect(message).toMatchObject({ status: MessageStatus.DELIVERED, providerMessageId });
      expect(await post(url, genuine)).toEqual({ status: 200, body: { received: true, duplicate: true } });

      // The provider reports "delivered" again: nothing to apply, so one
      // statement once the account is cached (signature nonces, a replay
      // guard of their own, aside).
      let statements = 0;
      const count = (query: { sql: string }) => void (query.sql.includes("inbound_webhook_nonces") || (statements += 1));
      app.db.knex.on("query", count);
      try {
        const statementsOfRepeat = async () => {
          const again = await bed.deliveryCallback(providerMessageId, "delivered");
          const before = statements;
          expect((await post(again.url.startsWith(ownUrl) ? again.url : ownUrl, again)).status).toBe(200);
          return statements - before;
        };
        await expect.poll(statementsOfRepeat).toBe(1);
      } finally {
        app.db.knex.off("query", count);
      }
      const delivered = (await messageEvents(app, messageId)).filter((e) => e.type === "message.delivered");
      expect(delivered).toHaveLength(1);
    });
  }
});
