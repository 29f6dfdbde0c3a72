import { recordAudit } from "@onerouter/admin";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { maskInBinaryColumn, maskInCoreRecords, type Contact, type Knex } from "@onerouter/core";
import { type EnvironmentName } from "@onerouter/routing";
import { eraseMessageContact } from "@onerouter/messaging";
import { erasePaymentContact } from "@onerouter/payments";

export interface Erasure {
  payments: Record<EnvironmentName, number>;
  messages: Record<EnvironmentName, number>;
  events: number;
  idempotentResponses: number;
}

// Erases a person's contact data across every room that keeps some, in one
// transaction: payments and messages redact their own tables; the events
// (the outbox's and webhooks' copies) and idempotent answers that carried
// the data have it overwritten. The financial records stay whole. The audit
// log records the erasure per environment, without the contact itself.
export async function eraseContact(knex: Knex, tenantId: string, contact: Contact): Promise<Erasure> {
  return knex.transaction(async (trx) => {
    const payments = await erasePaymentContact(trx, tenantId, contact);
    const messages = await eraseMessageContact(trx, tenantId, contact);
    const needles = [...payments.found, ...messages.found, contact.email ?? "", contact.email?.toLowerCase() ?? "", contact.phone ?? ""];
    const names = [...payments.names, ...messages.names];
    const { events, idempotentResponses } = await maskInCoreRecords(trx, tenantId, needles, names);
    // Webhooks' copies of the same events.
    await maskInBinaryColumn(trx, { table: "webhook_events", column: "payload", keyColumns: ["id"], tenantId }, needles, names);
    for (const environment of ["test", "live"] as const) {
      await recordAudit(trx, {
        tenantId,
        actor: "cli",
        action: "contact.erased",
        resourceType: "contact",
        resourceId: contact.email ? "email" : "phone",
        environment: environment === "live" ? Environment.LIVE : Environment.TEST,
        metadata: {
          payments: String(payments.payments[environment]),
          messages: String(messages.messages[environment]),
          events: String(events),
          idempotent_responses: String(idempotentResponses),
        },
      });
    }
    return { payments: payments.payments, messages: messages.messages, events, idempotentResponses };
  });
}
