import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { MessageStatus, SendMessageRequestSchema } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { describeEachEngine } from "@onerouter/core/testing";
import { goneInstanceId, leaveClaimBehind } from "@onerouter/core/testing";
import { startSandboxProvider, type RunningSandbox } from "@onerouter/sandbox";
import { MessageStore } from "./store";
import { addSandboxAccount, failure, newTenant, sandboxMessages, setRoutingProfile, type TestTenant, startTestMessagingRoom, type TestMessagingRoom } from "../test/index";
import { validSendMessage } from "./validation";

// Idempotency-Key on SendMessage, against a sandbox server of the test's own
// so every message it took can be counted. A retry after its request's
// process was killed gets the same message back, and a message a provider
// may hold is never sent again.

describeEachEngine("MessagingService idempotency", (engine) => {
  let app: TestMessagingRoom;
  let sandbox: RunningSandbox;
  let tenant: TestTenant;
  let account: { id: string; apiKey: string };
  // A tenant whose requests were cut short by a killed process (`killed`).
  let crashed: TestTenant;
  let crashedAccount: { id: string; apiKey: string };
  let killed: string;

  beforeAll(async () => {
    app = await startTestMessagingRoom(engine);
    sandbox = await startSandboxProvider();
    tenant = await newTenant(app, "Idempotent");
    account = await addSandboxAccount(app, tenant.id, "sandbox_sms", { base_url: sandbox.url, added_latency_ms: "200" });
    await setRoutingProfile(app, tenant.id, { strategy: RoutingStrategy.PRIORITY, targets: [{ providerAccountId: account.id }] });
    crashed = await newTenant(app, "Crashed");
    crashedAccount = await addSandboxAccount(app, crashed.id, "sandbox_sms", { base_url: sandbox.url });
    await setRoutingProfile(app, crashed.id, { strategy: RoutingStrategy.PRIORITY, targets: [{ providerAccountId: crashedAccount.id }] });
    killed = await goneInstanceId(app.db);
  });
  afterAll(async () => {
    await app?.close();
    await sandbox?.close();
  });

  const withKey = (key: string, onHeader?: (headers: Headers) => void) => ({ headers: { "Idempotency-Key": key }, onHeader });
  const sms = (body: string) => ({ content: { case: "sms" as const, value: { to: "+14155550100", body } } });

  it("sends once for 50 concurrent requests with one key", async () => {
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        tenant.client.sendMessage(sms("Your code is 424242"), withKey("otp-42")).then(
          (res) => ({ sent: res.message! }),
          (err: unknown) => failure(Promise.reject(err)),
        ),
      ),
    );
    const answered = answers.filter((a) => "sent" in a);
    const refused = answers.filter((a) => !("sent" in a));
    // The first request runs; those arriving while it runs are told so; any
    // arriving after it finished get its stored answer.
    expect(answered.length).toBeGreaterThanOrEqual(1);
    expect(new Set(answered.map((a) => a.sent.id)).size).toBe(1);
    for (const a of refused) expect(a).toMatchObject({ code: Code.Aborted, reason: "IDEMPOTENCY_KEY_IN_USE" });

    const stored = (await app.db.knex("messages").where({ tenant_id: tenant.id })) as { id: string }[];
    expect(stored).toHaveLength(1);
    expect(await app.db.knex("message_attempts").where({ message_id: stored[0]!.id })).toHaveLength(1);
    expect(await sandboxMessages(sandbox.url, account.apiKey)).toHaveLength(1);

    // Once it has finished, the same key replays the same message and says so.
    let replayed: string | null = null;
    const replay = await tenant.client.sendMessage(sms("Your code is 424242"), withKey("otp-42", (h) => (replayed = h.get("idempotent-replayed"))));
    expect(replay.message?.id).toBe(stored[0]!.id);
    expect([MessageStatus.SENT, MessageStatus.DELIVERED]).toContain(replay.message?.status);
    expect(replayed).toBe("true");
    expect(await sandboxMessages(sandbox.url, account.apiKey)).toHaveLength(1);
  });

  it("refuses the same key with a different message", async () => {
    await tenant.client.sendMessage(sms("first"), withKey("reuse"));
    expect(await failure(tenant.client.sendMessage(sms("second"), withKey("reuse")))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "IDEMPOTENCY_KEY_REUSED",
    });
  });

  it("sends each message without a key", async () => {
    const before = (await sandboxMessages(sandbox.url, account.apiKey)).length;
    const [a, b] = await Promise.all([tenant.client.sendMessage(sms("same")), tenant.client.sendMessage(sms("same"))]);
    expect(a.message?.id).not.toBe(b.message?.id);
    expect(await sandboxMessages(sandbox.url, account.apiKey)).toHaveLength(before + 2);
  });

  const leftBy = (key: string, resourceId: string, asKey?: string) =>
    leaveClaimBehind(app.db.knex, { tenantId: crashed.id, key }, { ownerInstance: killed, resourceId, ...(asKey !== undefined && { asKey }) });
  const sentWith = async (attemptId: string) =>
    (await sandboxMessages(sandbox.url, crashedAccount.apiKey)).filter((m) => m.attempt_id === attemptId).length;

  it("does not send again a message its process handed to the provider, and answers at once", async () => {
    const sent = (await crashed.client.sendMessage(sms("handed over"), withKey("handed-over"))).message!;
    const attemptId = sent.attempts[0]!.id;
    // As it was while the provider call was in flight.
    await app.db.knex("messages").where({ id: sent.id }).update({ status: "queued", provider_message_id: "", sent_at: null, delivered_at: null });
    await app.db.knex("message_attempts").where({ message_id: sent.id }).update({ status: "pending", provider_message_id: "" });
    await leftBy("handed-over", sent.id);

    const started = Date.now();
    const again = (await crashed.client.sendMessage(sms("handed over"), withKey("handed-over"))).message!;
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(again.id).toBe(sent.id);
    expect(again.attempts.map((a) => a.id)).toEqual([attemptId]);
    expect(await sentWith(attemptId)).toBe(1);
    // Its provider's delivery report, not a second send, settles it.
    expect((await app.db.knex("message_attempts").where({ id: attemptId }).first()).status).not.toBe("pending");
  });

  it("sends an attempt cut short before it reached the provider again under its id, where the provider allows", async () => {
    const request = sms("attempt recorded, call never made");
    await crashed.client.sendMessage(request, withKey("template-attempt"));
    const store = new MessageStore(app.db.knex);
    const orphan = await store.createMessage(
      { tenantId: crashed.id, environment: "test" },
      validSendMessage(create(SendMessageRequestSchema, request)),
      async () => undefined,
    );
    const attempt = (await store.startAttempt(orphan, { id: crashedAccount.id, provider: "sandbox_sms", routingReason: "chosen: priority 1 of 1" }, undefined))!;
    await leftBy("template-attempt", orphan.id, "attempt-not-sent");
    expect(await sentWith(attempt.id)).toBe(0);

    const resumed = (await crashed.client.sendMessage(request, withKey("attempt-not-sent"))).message!;
    expect(resumed.id).toBe(orphan.id);
    expect(resumed.attempts.map((a) => a.id)).toEqual([attempt.id]);
    expect([MessageStatus.SENT, MessageStatus.DELIVERED]).toContain(resumed.status);
    expect(await sentWith(attempt.id)).toBe(1);
  });

  it("sends once a message whose process died before handing it to any provider", async () => {
    const request = sms("not handed over");
    await crashed.client.sendMessage(request, withKey("template"));
    const orphan = await new MessageStore(app.db.knex).createMessage(
      { tenantId: crashed.id, environment: "test" },
      validSendMessage(create(SendMessageRequestSchema, request)),
      async () => undefined,
    );
    await leftBy("template", orphan.id, "before-attempt");

    const resumed = (await crashed.client.sendMessage(request, withKey("before-attempt"))).message!;
    expect(resumed.id).toBe(orphan.id);
    expect([MessageStatus.SENT, MessageStatus.DELIVERED]).toContain(resumed.status);
    expect(resumed.attempts).toHaveLength(1);
    expect(await sentWith(resumed.attempts[0]!.id)).toBe(1);
  });
});
