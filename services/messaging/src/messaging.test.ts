import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import {
  Channel,
  MessageStatus,
  SmsEncoding,
  type SendMessageRequestSchema,
} from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { describeEachEngine } from "@onerouter/core/testing";
import { callbackWait, failure, messageEvents, newTenant, type MessagingClient, type TestTenant, startTestMessagingRoom, type TestMessagingRoom } from "../test/index";

// The message lifecycle through the API, on the built-in sandbox a new
// tenant's test environment starts with: sending, the sandbox's delivery
// callbacks, events, validation, listing and isolation.

type SendInit = MessageInitShape<typeof SendMessageRequestSchema>;

const sms = (to: string, body = "Your code is 123456"): SendInit => ({ content: { case: "sms", value: { to, body } } });
const email = (to: string[], extra: Record<string, unknown> = {}): SendInit => ({
  content: {
    case: "email",
    value: { from: { email: "shop@example.com", name: "Shop" }, to: to.map((address) => ({ email: address })), subject: "Your receipt", text: "Thanks.", ...extra },
  },
});

describeEachEngine("MessagingService", (engine) => {
  let app: TestMessagingRoom;
  let tenant: TestTenant;

  beforeAll(async () => {
    app = await startTestMessagingRoom(engine);
    tenant = await newTenant(app, "Messenger");
    await app.ensureSandboxDefaults(tenant.id);
  });
  afterAll(async () => app?.close());

  const eventTypes = async (id: string) => (await messageEvents(app, id)).map((e) => e.type);
  const settled = async (client: MessagingClient, id: string, status: MessageStatus) =>
    vi.waitFor(async () => {
      const { message } = await client.getMessage({ id });
      expect(message?.status).toBe(status);
      return message!;
    }, callbackWait);

  it("sends a first SMS with no setup and follows the sandbox's callbacks to DELIVERED", async () => {
    const { message } = await tenant.client.sendMessage(sms("+14155550100"));
    // The sandbox's callbacks may overtake the answer on a busy machine.
    expect([MessageStatus.SENT, MessageStatus.DELIVERED]).toContain(message!.status);
    expect(message).toMatchObject({
      channel: Channel.SMS,
      provider: "sandbox_sms",
      country: "US",
      segments: 1,
      encoding: SmsEncoding.GSM7,
      // The sandbox publishes USD 0.0075 per segment.
      priceMicros: 7_500n,
      priceCurrency: "USD",
    });
    expect(message!.providerMessageId).not.toBe("");
    expect(message!.attempts).toHaveLength(1);

    const delivered = await settled(tenant.client, message!.id, MessageStatus.DELIVERED);
    expect(delivered.attempts.map((a) => a.status)).toEqual([MessageStatus.DELIVERED]);
    expect(delivered.deliverTime).toBeDefined();
    await vi.waitFor(async () => expect(await eventTypes(message!.id)).toEqual(["message.sent", "message.delivered"]), callbackWait);
    const [sent, done] = await messageEvents(app, message!.id);
    expect(sent?.tenantId).toBe(tenant.id);
    expect(sent?.data.value).toMatchObject({ message: { id: message!.id, status: MessageStatus.SENT } });
    expect(done?.data.value).toMatchObject({ message: { status: MessageStatus.DELIVERED, providerMessageId: message!.providerMessageId } });
  });

  it("sends email to every recipient and prices it per recipient", async () => {
    const { message } = await tenant.client.sendMessage(
      email(["a@example.com"], { cc: [{ email: "b@example.com" }], bcc: [{ email: "c@example.com" }], html: "<p>Thanks.</p>" }),
    );
    expect(message).toMatchObject({ channel: Channel.EMAIL, provider: "sandbox_email", priceMicros: 2_400n });
    await settled(tenant.client, message!.id, MessageStatus.DELIVERED);
  });

  it("counts segments by encoding and prices every segment", async () => {
    const gsmLong = (await tenant.client.sendMessage(sms("+14155550100", "a".repeat(161)))).message!;
    expect(gsmLong).toMatchObject({ segments: 2, encoding: SmsEncoding.GSM7, priceMicros: 15_000n });
    // Extension characters take two septets: 80 of them fill one message.
    const extended = (await tenant.client.sendMessage(sms("+14155550100", "€".repeat(80)))).message!;
    expect(extended).toMatchObject({ segments: 1, encoding: SmsEncoding.GSM7 });
    const unicode = (await tenant.client.sendMessage(sms("+919876543210", "नमस्ते ".repeat(10) + "!"))).message!;
    expect(unicode).toMatchObject({ segments: 2, encoding: SmsEncoding.UCS2, country: "IN" });
  });

  it("reports a message the carrier rejects as FAILED and one it cannot deliver as UNDELIVERED, with the provider's error", async () => {
    const failed = (await tenant.client.sendMessage(sms("+15005550002"))).message!;
    const failedLater = await settled(tenant.client, failed.id, MessageStatus.FAILED);
    expect(failedLater.error).toMatchObject({ provider: "sandbox_sms", providerCode: "carrier_rejected" });
    await vi.waitFor(async () => expect(await eventTypes(failed.id)).toEqual(["message.sent", "message.failed"]), callbackWait);

    const undelivered = (await tenant.client.sendMessage(email(["undeliverable@sandbox.test"]))).message!;
    const undeliveredLater = await settled(tenant.client, undelivered.id, MessageStatus.UNDELIVERED);
    expect(undeliveredLater.error).toMatchObject({ provider: "sandbox_email", providerCode: "mailbox_unavailable" });
    expect(undeliveredLater.attempts.map((a) => a.status)).toEqual([MessageStatus.UNDELIVERED]);
  });

  it("fails a message the provider refuses outright, without trying another provider", async () => {
    const { message } = await tenant.client.sendMessage(sms("+15005550001"));
    expect(message).toMatchObject({
      status: MessageStatus.FAILED,
      error: { reason: "PROVIDER_INVALID_REQUEST", provider: "sandbox_sms", providerCode: "invalid_destination" },
    });
    expect(message!.attempts).toHaveLength(1);
    expect(await eventTypes(message!.id)).toEqual(["message.failed"]);
  });

  it("names the field of an invalid request", async () => {
    const cases: [SendInit, string, string?][] = [
      [{}, "content"],
      [sms(""), "sms.to"],
      [sms("4155550100"), "sms.to"],
      [sms("+1415555010"), "sms.to"],
      [sms("+999123456789"), "sms.to", "UNSUPPORTED_COUNTRY"],
      [sms("+14155550100", "   "), "sms.body"],
      [sms("+14155550100", "a".repeat(153 * 10 + 1)), "sms.body", "MESSAGE_TOO_LONG"],
      // 800 extension characters take 1600 septets: 11 parts of 153.
      [sms("+14155550100", "€".repeat(800)), "sms.body", "MESSAGE_TOO_LONG"],
      [sms("+14155550100", "ж".repeat(67 * 10 + 1)), "sms.body", "MESSAGE_TOO_LONG"],
      [{ content: { case: "sms", value: { to: "+14155550100", from: "Far too long a name", body: "hi" } } }, "sms.from"],
      [email(["not-an-address"]), "email.to[0].email"],
      [email([]), "email.to"],
      [email(["a@example.com"], { cc: [{ email: "b@example" }] }), "email.cc[0].email"],
      [email(["a@example.com"], { from: { email: "" } }), "email.from.email"],
      [email(["a@example.com"], { replyTo: { email: "reply@@example.com" } }), "email.reply_to.email"],
      [email(["a@example.com"], { subject: "" }), "email.subject"],
      [email(["a@example.com"], { subject: "x".repeat(999) }), "email.subject"],
      [email(["a@example.com"], { subject: "Hi\r\nBcc: everyone@example.com" }), "email.subject"],
      [email(["a@example.com"], { text: "", html: "" }), "email.text"],
      [email(["a@example.com"], { html: "x".repeat(1024 * 1024 + 1) }), "email.html"],
      [email(Array.from({ length: 51 }, (_, i) => `r${i}@example.com`)), "email.to"],
      [{ ...sms("+14155550100"), metadata: { ["k".repeat(41)]: "v" } }, "metadata"],
    ];
    for (const [request, field, reason] of cases) {
      const answer = await failure(tenant.client.sendMessage(request));
      expect(answer, field).toMatchObject({ code: Code.InvalidArgument, metadata: { field } });
      if (reason) expect(answer.reason, field).toBe(reason);
    }
    expect(await failure(tenant.client.getMessage({ id: "" }))).toMatchObject({ code: Code.InvalidArgument, metadata: { field: "id" } });
  });

  it("lists messages newest first by page, filtered by channel, status, provider and time", async () => {
    const lister = await newTenant(app, "Lister");
    await app.ensureSandboxDefaults(lister.id);
    const before = new Date();
    const sent: string[] = [];
    for (const request of [sms("+14155550100"), email(["a@example.com"]), sms("+15005550001"), sms("+447700900123")]) {
      sent.push((await lister.client.sendMessage(request)).message!.id);
    }
    const ids: string[] = [];
    let pageToken = "";
    do {
      const page = await lister.client.listMessages({ pageSize: 3, pageToken });
      ids.push(...page.messages.map((m) => m.id));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(ids).toEqual([...sent].reverse());

    const onlySms = await lister.client.listMessages({ channel: Channel.SMS });
    expect(onlySms.messages.map((m) => m.id)).toEqual([sent[3], sent[2], sent[0]]);
    const failedOnes = await lister.client.listMessages({ status: MessageStatus.FAILED });
    expect(failedOnes.messages.map((m) => m.id)).toEqual([sent[2]]);
    expect((await lister.client.listMessages({ provider: "sandbox_email" })).messages.map((m) => m.id)).toEqual([sent[1]]);
    const afterwards = await lister.client.listMessages({ createTime: { startTime: timestampFromDate(new Date(Date.now() + 60_000)) } });
    expect(afterwards.messages).toEqual([]);
    const since = await lister.client.listMessages({ createTime: { startTime: timestampFromDate(before) } });
    expect(since.messages).toHaveLength(4);
    expect(await failure(lister.client.listMessages({ status: 99 as MessageStatus }))).toMatchObject({ metadata: { field: "status" } });
    expect(await failure(lister.client.listMessages({ pageToken: "garbage" }))).toMatchObject({ metadata: { field: "page_token" } });
  });

  it("keeps each tenant's and environment's messages to themselves", async () => {
    const { message } = await tenant.client.sendMessage(sms("+14155550100"));
    const other = await newTenant(app, "Other");
    await app.ensureSandboxDefaults(other.id);
    for (const client of [other.client, other.liveClient, tenant.liveClient]) {
      expect(await failure(client.getMessage({ id: message!.id }))).toMatchObject({ code: Code.NotFound, reason: "RESOURCE_NOT_FOUND" });
      expect((await client.listMessages({})).messages).toEqual([]);
    }
  });

  it("fails a live message when the live environment has no provider account", async () => {
    const { message } = await tenant.liveClient.sendMessage(sms("+14155550100"));
    expect(message).toMatchObject({ status: MessageStatus.FAILED, error: { reason: "NO_PROVIDER_AVAILABLE" } });
    expect(await eventTypes(message!.id)).toEqual(["message.failed"]);
  });
});
