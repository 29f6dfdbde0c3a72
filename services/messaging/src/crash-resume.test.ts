import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, expect, it } from "vitest";
import { RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { MessageStatus, SendMessageRequestSchema } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { describeEachEngine } from "@onerouter/core/db/testing";
import { goneInstanceId, leaveClaimBehind } from "@onerouter/core/idempotency-testing";
import { startSandboxProvider, type RunningSandbox } from "@onerouter/emulators/sandbox/index";
import { startTestOneRouter, type TestOneRouter } from "@onerouter/server/testing";
import { MessageStore } from "./store";
import { addSandboxAccount, newTenant, sandboxMessages, setRoutingProfile, type TestTenant } from "./testing";
import { validSendMessage } from "./validation";

// A retry of SendMessage after its request's process was killed: the same
// message comes back, and a message a provider may hold is never sent again.

describeEachEngine("MessagingService after a crash", (engine) => {
  let app: TestOneRouter;
  let sandbox: RunningSandbox;
  let tenant: TestTenant;
  let account: { id: string; apiKey: string };
  let killed: string;

  beforeAll(async () => {
    app = await startTestOneRouter({ engine });
    sandbox = await startSandboxProvider();
    tenant = await newTenant(app, "Crashed");
    account = await addSandboxAccount(app, tenant.id, "sandbox_sms", { base_url: sandbox.url });
    await setRoutingProfile(app, tenant.id, { strategy: RoutingStrategy.PRIORITY, targets: [{ providerAccountId: account.id }] });
    killed = await goneInstanceId(app.db);
  });
  afterAll(async () => {
    await app?.close();
    await sandbox?.close();
  });

  const withKey = (key: string) => ({ headers: { "Idempotency-Key": key } });
  const sms = (body: string) => ({ content: { case: "sms" as const, value: { to: "+14155550100", body } } });
  const leftBy = (key: string, resourceId: string, asKey?: string) =>
    leaveClaimBehind(app.db.knex, { tenantId: tenant.id, key }, { ownerInstance: killed, resourceId, ...(asKey !== undefined && { asKey }) });
  const sentWith = async (attemptId: string) =>
    (await sandboxMessages(sandbox.url, account.apiKey)).filter((m) => m.attempt_id === attemptId).length;

  it("does not send again a message its process handed to the provider, and answers at once", async () => {
    const sent = (await tenant.client.sendMessage(sms("handed over"), withKey("handed-over"))).message!;
    const attemptId = sent.attempts[0]!.id;
    // As it was while the provider call was in flight.
    await app.db.knex("messages").where({ id: sent.id }).update({ status: "queued", provider_message_id: "", sent_at: null, delivered_at: null });
    await app.db.knex("message_attempts").where({ message_id: sent.id }).update({ status: "pending", provider_message_id: "" });
    await leftBy("handed-over", sent.id);

    const started = Date.now();
    const again = (await tenant.client.sendMessage(sms("handed over"), withKey("handed-over"))).message!;
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(again.id).toBe(sent.id);
    expect(again.attempts.map((a) => a.id)).toEqual([attemptId]);
    expect(await sentWith(attemptId)).toBe(1);
    // Its provider's delivery report, not a second send, settles it.
    expect((await app.db.knex("message_attempts").where({ id: attemptId }).first()).status).not.toBe("pending");
  });

  it("sends once a message whose process died before handing it to any provider", async () => {
    const request = sms("not handed over");
    await tenant.client.sendMessage(request, withKey("template"));
    const orphan = await new MessageStore(app.db.knex).createMessage(
      { tenantId: tenant.id, environment: "test" },
      validSendMessage(create(SendMessageRequestSchema, request)),
      async () => undefined,
    );
    await leftBy("template", orphan.id, "before-attempt");

    const resumed = (await tenant.client.sendMessage(request, withKey("before-attempt"))).message!;
    expect(resumed.id).toBe(orphan.id);
    expect([MessageStatus.SENT, MessageStatus.DELIVERED]).toContain(resumed.status);
    expect(resumed.attempts).toHaveLength(1);
    expect(await sentWith(resumed.attempts[0]!.id)).toBe(1);
  });
});
