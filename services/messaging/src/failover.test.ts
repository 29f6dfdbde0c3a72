import { afterAll, afterEach, beforeAll, expect, it, vi } from "vitest";
import { RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { MessageStatus, type Message } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { describeEachEngine } from "@onerouter/core/testing";
import { startTwilioTestBed, type TwilioTestBed } from "./connectors/twilio/connector.testing";
import { startVonageTestBed, type VonageTestBed } from "./connectors/vonage/connector.testing";
import { addAccount, callbackWait, messageEvents, newTenant, setRoutingProfile, startTestMessagingRoom, type TestMessagingRoom } from "../test/index";

// Failing over from Twilio (primary) to Vonage (secondary): only when Twilio
// provably did not take the message; never after an ambiguous call.

describeEachEngine("messaging failover", (engine) => {
  let app: TestMessagingRoom;
  let twilio: TwilioTestBed;
  let vonage: VonageTestBed;

  beforeAll(async () => {
    app = await startTestMessagingRoom(
      engine,
      // Long enough for a slow machine's provider calls, short enough for the timeout test.
      { ONEROUTER_BREAKER_FAILURES: "2", ONEROUTER_BREAKER_COOLDOWN_MS: "60000", ONEROUTER_PROVIDER_TIMEOUT_MS: "2000" },
    );
    twilio = await startTwilioTestBed();
    vonage = await startVonageTestBed();
  });
  afterEach(async () => {
    await twilio.emulator.setFailure({ mode: "none" });
    await vonage.emulator.setFailure({ mode: "none" });
  });
  afterAll(async () => {
    await app?.close();
    await twilio?.close();
    await vonage?.close();
  });

  async function pair(name: string) {
    const tenant = await newTenant(app, name);
    const primary = await addAccount(app, tenant.id, "twilio", twilio.ctx.credentials, twilio.ctx.settings);
    const secondary = await addAccount(app, tenant.id, "vonage", vonage.ctx.credentials, vonage.ctx.settings);
    await setRoutingProfile(app, tenant.id, {
      strategy: RoutingStrategy.PRIORITY,
      targets: [{ providerAccountId: primary.id }, { providerAccountId: secondary.id }],
    });
    return { tenant, primary, secondary };
  }

  const sms = { content: { case: "sms" as const, value: { to: "+14155550100", body: "Your code is 123456" } } };
  const attempts = (message: Message | undefined) => message!.attempts.map((a) => [a.providerAccountId, a.status]);

  it("sends through the secondary when the primary is down", async () => {
    const { tenant, primary, secondary } = await pair("Down");
    await twilio.emulator.setFailure({ mode: "down" });
    const { message } = await tenant.client.sendMessage(sms);
    expect(message).toMatchObject({ status: MessageStatus.SENT, provider: "vonage", providerAccountId: secondary.id });
    expect(attempts(message)).toEqual([
      [primary.id, MessageStatus.FAILED],
      [secondary.id, MessageStatus.SENT],
    ]);
    expect(message!.attempts[0]!.error).toMatchObject({ reason: "PROVIDER_UNAVAILABLE", provider: "twilio" });
    expect(await vonage.sentCount(message!.attempts[1]!.id)).toBe(1);
  });

  it("fails over when the primary throttles, and stops calling it once its circuit opens", async () => {
    const { tenant, primary, secondary } = await pair("Throttled");
    await twilio.emulator.setFailure({ mode: "rate_limited" });
    for (let i = 0; i < 2; i++) {
      const { message } = await tenant.client.sendMessage(sms);
      expect(attempts(message)).toEqual([
        [primary.id, MessageStatus.FAILED],
        [secondary.id, MessageStatus.SENT],
      ]);
      expect(message!.attempts[0]!.error?.reason).toBe("PROVIDER_RATE_LIMITED");
    }
    // Two failures open the primary's circuit: the next message skips it without a call.
    const before = twilio.emulator.requestCount();
    const { message } = await tenant.client.sendMessage(sms);
    expect(attempts(message)).toEqual([[secondary.id, MessageStatus.SENT]]);
    expect(twilio.emulator.requestCount()).toBe(before);
  });

  it("never sends a second time after a timeout; the primary's callback settles the message", async () => {
    const { tenant, primary } = await pair("Timeout");
    // Twilio takes the message but its answer never comes.
    await twilio.emulator.setFailure({ mode: "timeout_after_accept", count: 1 });
    const vonageCalls = vonage.emulator.requestCount();
    const { message } = await tenant.client.sendMessage(sms);
    expect(message).toMatchObject({ status: MessageStatus.QUEUED, provider: "twilio", providerAccountId: primary.id });
    expect(attempts(message)).toEqual([[primary.id, MessageStatus.QUEUED]]);
    expect(message!.attempts[0]!.error?.reason).toBe("PROVIDER_TIMEOUT");
    expect(vonage.emulator.requestCount()).toBe(vonageCalls);

    const [taken] = twilio.twilio.messagesForAttempt(message!.attempts[0]!.id);
    expect(taken).toBeDefined();
    await twilio.twilio.reportStatus(taken!.sid, "delivered", { deliver: true });
    await vi.waitFor(async () => {
      const { message: settled } = await tenant.client.getMessage({ id: message!.id });
      expect(settled).toMatchObject({ status: MessageStatus.DELIVERED, providerMessageId: taken!.sid });
      expect(attempts(settled)).toEqual([[primary.id, MessageStatus.DELIVERED]]);
    }, callbackWait);
    expect((await messageEvents(app, message!.id)).map((e) => e.type)).toEqual(["message.sent", "message.delivered"]);
  });

  it("fails the message with NO_PROVIDER_AVAILABLE when every provider is down", async () => {
    const { tenant } = await pair("AllDown");
    await twilio.emulator.setFailure({ mode: "down" });
    await vonage.emulator.setFailure({ mode: "error_5xx" });
    const { message } = await tenant.client.sendMessage(sms);
    expect(message).toMatchObject({ status: MessageStatus.FAILED, error: { reason: "NO_PROVIDER_AVAILABLE" } });
    expect(message!.attempts.map((a) => a.status)).toEqual([MessageStatus.FAILED, MessageStatus.FAILED]);
    expect((await messageEvents(app, message!.id)).map((e) => e.type)).toEqual(["message.failed"]);
  });
});
