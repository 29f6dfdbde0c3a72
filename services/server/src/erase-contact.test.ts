import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { MessageStatus, MessagingService } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { PaymentService, PaymentStatus } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { describeEachEngine } from "@onerouter/core/testing";
import { eraseContact } from "./erase-contact";
import { newTestTenant } from "@onerouter/routing/testing";
import { apiClient, startTestOneRouter, type TestOneRouter } from "../test/index";

// Erasing a person's contact data: their payments and messages lose it,
// everything stored that carried it is overwritten, the money stays.

const ann = { id: "cus_ann", email: "Ann.Lee@Example.com", name: "Ann Lee", phone: "+14155550111", country: "US" };
const bob = { id: "cus_bob", email: "bob@example.com", name: "Bob Stone", phone: "+14155550199", country: "US" };

describeEachEngine("erasing a contact", (engine) => {
  let app: TestOneRouter;
  beforeAll(async () => {
    app = await startTestOneRouter({ engine });
  });
  afterAll(async () => app?.close());

  // Every stored byte of the tenant that could carry contact data.
  async function storedBytes(tenantId: string): Promise<string> {
    const columns = [
      ["outbox_events", "payload"],
      ["webhook_events", "payload"],
      ["idempotency_keys", "response"],
      ["inbound_provider_events", "payload"],
    ] as const;
    const parts: string[] = [];
    for (const [table, column] of columns) {
      const rows = (await app.db.knex(table).where({ tenant_id: tenantId }).whereNotNull(column).select(column)) as Record<string, Uint8Array>[];
      parts.push(...rows.map((r) => Buffer.from(r[column]!).toString("latin1")));
    }
    const tables = await Promise.all(["payments", "messages"].map((t) => app.db.knex(t).where({ tenant_id: tenantId })));
    return parts.join("\n") + JSON.stringify(tables);
  }

  it("redacts the person's payments and messages and keeps amounts, statuses, ids and everyone else", async () => {
    const tenant = await newTestTenant(app, "Erasing Shop");
    await app.ensureSandboxDefaults(tenant.id);
    const payments = apiClient(app, PaymentService, tenant.testSecret);
    const messaging = apiClient(app, MessagingService, tenant.testSecret);

    const annPayment = (await payments.createPayment({ amount: 1500n, currency: "USD", customer: ann }, { headers: { "Idempotency-Key": "pay-ann" } })).payment!;
    const bobPayment = (await payments.createPayment({ amount: 990n, currency: "USD", customer: bob })).payment!;
    const sms = (to: string) => ({ content: { case: "sms" as const, value: { to, body: `Your code for ${to}` } } });
    const annSms = (await messaging.sendMessage(sms(ann.phone))).message!;
    const bobSms = (await messaging.sendMessage(sms(bob.phone))).message!;
    const annEmail = (
      await messaging.sendMessage({
        content: { case: "email", value: { from: { email: "shop@example.com" }, to: [{ email: ann.email.toLowerCase(), name: ann.name }], subject: "Receipt", text: "Thanks, Ann" } },
      })
    ).message!;
    // Every delivery report is in first: a report arriving after the erasure would store its own copy.
    for (const id of [annSms.id, bobSms.id, annEmail.id]) {
      await vi.waitFor(async () => expect((await messaging.getMessage({ id })).message?.status).toBe(MessageStatus.DELIVERED), { timeout: 15_000 });
    }
    // Webhooks has its copy of every event, so the erasure has both to mask.
    const eventCount = async (table: string) => Number((await app.db.knex(table).where({ tenant_id: tenant.id }).count({ n: "*" }))[0]!.n);
    await vi.waitFor(async () => expect(await eventCount("webhook_events")).toBe(await eventCount("outbox_events")), { timeout: 15_000 });
    const bobBefore = (await payments.getPayment({ id: bobPayment.id })).payment!;
    const bobSmsBefore = (await messaging.getMessage({ id: bobSms.id })).message!;
    expect(await storedBytes(tenant.id)).toContain(ann.phone);

    const byEmail = await eraseContact(app.db.knex, tenant.id, { email: "ann.lee@example.com" });
    expect(byEmail.payments).toEqual({ test: 1, live: 0 });
    expect(byEmail.messages).toEqual({ test: 1, live: 0 });
    const byPhone = await eraseContact(app.db.knex, tenant.id, { phone: ann.phone });
    expect(byPhone.messages).toEqual({ test: 1, live: 0 });

    const after = (await payments.getPayment({ id: annPayment.id })).payment!;
    expect(after.customer).toMatchObject({ id: "cus_ann", country: "US", email: "", name: "", phone: "" });
    expect(after).toMatchObject({
      id: annPayment.id,
      amount: 1500n,
      currency: "USD",
      status: PaymentStatus.SUCCEEDED,
      amountCaptured: 1500n,
      providerPaymentId: annPayment.providerPaymentId,
      createTime: annPayment.createTime,
    });
    expect(after.attempts).toEqual(annPayment.attempts);
    for (const id of [annSms.id, annEmail.id]) {
      const { message } = await messaging.getMessage({ id });
      expect(message?.content.value).toMatchObject({ to: expect.not.stringContaining("1415") });
      expect(message?.id).toBe(id);
    }
    expect((await messaging.getMessage({ id: annSms.id })).message).toMatchObject({ status: MessageStatus.DELIVERED, segments: annSms.segments });
    expect((await messaging.getMessage({ id: annEmail.id })).message?.content.value).toMatchObject({ subject: "", text: "", to: [] });

    // Nothing stored still names Ann; Bob is untouched.
    const stored = await storedBytes(tenant.id);
    for (const trace of [ann.email, ann.email.toLowerCase(), ann.name, ann.phone]) expect(stored).not.toContain(trace);
    for (const trace of [bob.email, bob.name, bob.phone]) expect(stored).toContain(trace);
    expect((await payments.getPayment({ id: bobPayment.id })).payment).toEqual(bobBefore);
    expect((await messaging.getMessage({ id: bobSms.id })).message).toEqual(bobSmsBefore);

    // The stored answer replays, redacted, and still makes no second payment.
    const replay = (await payments.createPayment({ amount: 1500n, currency: "USD", customer: ann }, { headers: { "Idempotency-Key": "pay-ann" } })).payment!;
    expect(replay).toMatchObject({ id: annPayment.id, amount: 1500n });
    expect(replay.customer?.email).not.toContain("Ann");

    const audit = await app.db.knex("audit_log_entries").where({ tenant_id: tenant.id, action: "contact.erased" });
    expect(audit).toHaveLength(4);
    expect(JSON.stringify(audit)).not.toContain("Ann");
  }, 60_000);
});
