import { insertRowSql, maskInBinaryColumn, newId, runPrepared, withParts, type Knex, type Sql } from "@onerouter/core";
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
// `nothingToApply`, when it gives a condition for a lone event, is true when
// applying it would change nothing (most: providers report states already
// recorded): such an event is checked and stored in one statement.
export async function recordInboundEvents<E extends InboundEvent>(
  knex: Knex,
  account: InboundAccount,
  events: readonly E[],
  rawBody: Buffer,
  apply: (trx: Knex.Transaction, event: E) => Promise<void>,
  nothingToApply?: (event: E) => Sql | undefined,
): Promise<WebhookOutcome> {
  const lone = events.length === 1 ? events[0] : undefined;
  const condition = lone && nothingToApply?.(lone);
  if (condition) {
    const outcome = await storeUnlessNews(knex, account, lone, rawBody, condition);
    if (outcome !== "news") return outcome;
  }
  return knex.transaction(async (trx) => {
    let applied = 0;
    for (const event of events) {
      const inserted = await trx("inbound_provider_events")
        .insert(storedEvent(account, event, rawBody))
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

type InboundAccount = Pick<ProviderAccountRecord, "id" | "tenantId" | "environment" | "provider" | "category">;

function storedEvent(account: InboundAccount, event: InboundEvent, rawBody: Buffer) {
  return {
    id: newId("ipe"),
    tenant_id: account.tenantId,
    environment: account.environment,
    category: account.category,
    provider: account.provider,
    provider_account_id: account.id,
    provider_event_id: event.providerEventId,
    payload: rawBody,
    received_at: new Date(),
  };
}

// Stores the event when `nothingToApply` holds, in one statement (atomic on
// its own): "applied" when stored, "duplicate" when it was stored before,
// "news" when it has something to apply and so is left for a transaction.
async function storeUnlessNews(
  knex: Knex,
  account: InboundAccount,
  event: InboundEvent,
  rawBody: Buffer,
  nothingToApply: Sql,
): Promise<WebhookOutcome | "news"> {
  const insert = insertRowSql("inbound_provider_events", storedEvent(account, event, rawBody));
  const { rows } = await runPrepared<{ nothing_to_apply: boolean; stored: boolean }>(
    knex,
    withParts(
      [
        ["check", { sql: `select (${nothingToApply.sql}) as nothing_to_apply`, bindings: nothingToApply.bindings }],
        [
          "stored",
          {
            sql: `${insert.sql} where (select nothing_to_apply from "check") on conflict (provider_account_id, provider_event_id) do nothing returning id`,
            bindings: insert.bindings,
          },
        ],
      ],
      { sql: `select nothing_to_apply, exists (select 1 from "stored") as stored from "check"`, bindings: [] },
    ),
  );
  const { nothing_to_apply: nothing, stored } = rows[0]!;
  if (!nothing) return "news";
  return stored ? "applied" : "duplicate";
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
