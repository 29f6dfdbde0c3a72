import { afterAll, beforeAll, expect, it } from "vitest";
import { RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { MessageStatus } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { inboundWebhookPath, WebhookNonceStore } from "@onerouter/routing";
import { describeEachEngine } from "@onerouter/core/testing";
import type { MailgunWebhookPayload, SignedMailgunWebhook } from "@onerouter/emulators/mailgun";
import { startMailgunTestBed, type MailgunTestBed } from "./connectors/mailgun/connector.testing";
import { addAccount, messageEvents, newTenant, setRoutingProfile, startTestMessagingRoom, type TestMessagingRoom } from "../test/index";

// Mailgun's signature covers a timestamp and a token, not the event: through
// the real HTTP route, a signature already seen cannot carry another event.

describeEachEngine("mailgun callback replays", (engine) => {
  let app: TestMessagingRoom;
  let bed: MailgunTestBed;

  beforeAll(async () => {
    app = await startTestMessagingRoom(engine);
    bed = await startMailgunTestBed();
  });
  afterAll(async () => {
    await app?.close();
    await bed?.close();
  });

  async function sent() {
    const tenant = await newTenant(app, "Mailgun replays");
    const { id } = await addAccount(app, tenant.id, "mailgun", bed.ctx.credentials, bed.ctx.settings);
    await setRoutingProfile(app, tenant.id, { strategy: RoutingStrategy.PRIORITY, targets: [{ providerAccountId: id }] });
    const { message } = await tenant.client.sendMessage({
      content: { case: "email", value: { from: { email: "shop@example.com" }, to: [{ email: "buyer@example.com" }], subject: "Receipt", text: "Thanks." } },
    });
    expect(message?.status).toBe(MessageStatus.SENT);
    return { tenant, accountId: id, message: message! };
  }

  async function post(accountId: string, body: string) {
    const res = await fetch(`${app.baseUrl}${inboundWebhookPath("mailgun", accountId)}`, {
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  // The event of `carrier` under the signature of `signed`.
  function lifted(signed: SignedMailgunWebhook, carrier: SignedMailgunWebhook): string {
    const payload: MailgunWebhookPayload = { signature: signed.payload.signature, "event-data": carrier.payload["event-data"] };
    return JSON.stringify(payload);
  }

  it("refuses a seen signature on another event, in any process, and takes a redelivery of the same body", async () => {
    const { tenant, accountId, message } = await sent();
    const accepted = await bed.mailgun.reportEvent(message.providerMessageId, "accepted");
    expect(await post(accountId, accepted.body)).toEqual({ status: 200, body: { received: true, duplicate: false } });

    const delivered = await bed.mailgun.reportEvent(message.providerMessageId, "delivered");
    const forged = lifted(accepted, delivered);
    expect((await post(accountId, forged)).status).toBe(400);
    expect((await tenant.client.getMessage({ id: message.id })).message?.status).toBe(MessageStatus.SENT);
    // The token is in the database: another process refuses it as well.
    const elsewhere = new WebhookNonceStore(app.db.knex).forAccount(accountId);
    const expiresAt = new Date(Date.now() + 60_000);
    expect(await elsewhere.claim(accepted.payload.signature.token, Buffer.from(forged), expiresAt)).toBe(false);
    expect(await elsewhere.claim(accepted.payload.signature.token, Buffer.from(accepted.body), expiresAt)).toBe(true);

    // Mailgun delivering the same webhook again is acknowledged.
    expect(await post(accountId, accepted.body)).toEqual({ status: 200, body: { received: true, duplicate: false } });
    expect(await post(accountId, delivered.body)).toEqual({ status: 200, body: { received: true, duplicate: false } });
    expect((await tenant.client.getMessage({ id: message.id })).message?.status).toBe(MessageStatus.DELIVERED);
    expect((await messageEvents(app, message.id)).filter((e) => e.type === "message.delivered")).toHaveLength(1);
  });

  it("refuses a signature dated beyond the tolerance, in the future as in the past", async () => {
    const { tenant, accountId, message } = await sent();
    const now = Math.floor(Date.now() / 1000);
    for (const signedAt of [now + 3600, now - 3600]) {
      const delivered = await bed.mailgun.reportEvent(message.providerMessageId, "delivered", { signedAt });
      expect((await post(accountId, delivered.body)).status).toBe(400);
    }
    expect((await tenant.client.getMessage({ id: message.id })).message?.status).toBe(MessageStatus.SENT);
  });
});
