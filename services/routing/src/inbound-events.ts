import { maskInBinaryColumn, newId, type Knex } from "@onerouter/core";
import type { ProviderAccountRecord, ProviderCategory } from "./provider-accounts";

// The verified events providers send about payments and messages (webhooks,
// delivery callbacks), in routing's inbound_provider_events: each stored once
// per provider account and provider event id, with the body as received.

export type WebhookOutcome = "applied" | "duplicate";

export interface InboundEvent {
  providerEventId: string;
}

// Stores each event not stored before and applies it in the same transaction,
// so an event is applied exactly once however often the provider sends it.
// "duplicate" when every event was stored before; a body with no event in it
// (engagement events a room does not track) is news all the same.
export async function recordInboundEvents<E extends InboundEvent>(
  knex: Knex,
  account: Pick<ProviderAccountRecord, "id" | "tenantId" | "environment" | "provider" | "category">,
  events: readonly E[],
  rawBody: Buffer,
  apply: (trx: Knex.Transaction, event: E) => Promise<void>,
): Promise<WebhookOutcome> {
  return knex.transaction(async (trx) => {
    let applied = 0;
    for (const event of events) {
      const inserted = await trx("inbound_provider_events")
        .insert({
          id: newId("ipe"),
          tenant_id: account.tenantId,
          environment: account.environment,
          category: account.category,
          provider: account.provider,
          provider_account_id: account.id,
          provider_event_id: event.providerEventId,
          payload: rawBody,
          received_at: new Date(),
        })
        .onConflict(["provider_account_id", "provider_event_id"])
        .ignore()
        .returning("id");
      if (inserted.length === 0) continue;
      applied += 1;
      await apply(trx, event);
    }
    return applied > 0 || events.length === 0 ? "applied" : "duplicate";
  });
}

// Overwrites a person's contact data in the stored bodies of the tenant's
// inbound events of one category (see core's contact-erasure).
export async function maskInInboundEvents(
  trx: Knex,
  tenantId: string,
  category: ProviderCategory,
  needles: string[],
  alongside: string[],
): Promise<number> {
  return maskInBinaryColumn(
    trx,
    { table: "inbound_provider_events", column: "payload", keyColumns: ["id"], tenantId, where: { category } },
    needles,
    alongside,
  );
}
