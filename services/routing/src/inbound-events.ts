import { insertRowSql, maskInBinaryColumn, newId, runPrepared, withParts, WriteBatcher, type Knex, type Sql } from "@onerouter/core";
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
// recorded): such an event is checked and stored in one statement, together
// with the others of its kind that arrive while one such statement runs.
// Under load each statement sent wakes a Postgres backend that takes a core
// from the server mid-call; a provider's webhook per payment made this the
// third statement of every payment.
export class InboundEventRecorder {
  // By the condition's text, so that a statement's text is one of a bounded
  // set (a kind of condition, a number of events up to the cap) and runs
  // prepared. A lone event waits for nothing.
  private readonly loneEvents = new Map<string, WriteBatcher<LoneEvent, LoneOutcome>>();

  constructor(private readonly knex: Knex) {}

  async record<E extends InboundEvent>(
    account: InboundAccount,
    events: readonly E[],
    rawBody: Buffer,
    apply: (trx: Knex.Transaction, event: E) => Promise<void>,
    nothingToApply?: (event: E) => Sql | undefined,
  ): Promise<WebhookOutcome> {
    const lone = events.length === 1 ? events[0] : undefined;
    const condition = lone && nothingToApply?.(lone);
    if (condition) {
      const outcome = await this.loneEventsOfKind(condition.sql).add({ row: storedEvent(account, lone, rawBody), condition });
      if (outcome !== "news") return outcome;
    }
    return this.knex.transaction(async (trx) => {
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

  private loneEventsOfKind(conditionSql: string): WriteBatcher<LoneEvent, LoneOutcome> {
    let batcher = this.loneEvents.get(conditionSql);
    if (!batcher) {
      batcher = new WriteBatcher((events) => storeUnlessNews(this.knex, events), maxLoneEventsPerStatement);
      this.loneEvents.set(conditionSql, batcher);
    }
    return batcher;
  }
}

// Each count is one more prepared text per kind, in every pooled connection.
// bench/payments at concurrency 50 filled every statement: one for 16
// events, where there had been one for each.
const maxLoneEventsPerStatement = 16;

type LoneOutcome = WebhookOutcome | "news";

interface LoneEvent {
  row: StoredEvent;
  condition: Sql;
}

type InboundAccount = Pick<ProviderAccountRecord, "id" | "tenantId" | "environment" | "provider" | "category">;

type StoredEvent = ReturnType<typeof storedEvent>;

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

// Stores each event whose condition holds, in one statement (atomic on its
// own), and says of each: "applied" when stored, "duplicate" when it was
// stored before (or by another of `events` with its id), "news" when it has
// something to apply and so is left for a transaction. The conditions all
// have one text: only their values differ. Each event has a check and an
// insert of its own, so that one event costs what it did alone. They are
// listed in key order, the order Postgres runs them in (it does not promise
// one), so that two such statements in two processes do not each wait for a
// row the other inserted; should they, Postgres fails one as a deadlock and
// its events are then stored one to a statement.
async function storeUnlessNews(knex: Knex, events: readonly LoneEvent[]): Promise<LoneOutcome[]> {
  const inKeyOrder = [...events].sort((a, b) => compareKeys(a.row, b.row));
  const parts = inKeyOrder.flatMap(({ row, condition }, i) => {
    const insert = insertRowSql("inbound_provider_events", row);
    return [
      [`check_${i}`, { sql: `select (${condition.sql}) as nothing_to_apply`, bindings: condition.bindings }],
      [
        `stored_${i}`,
        {
          sql: `${insert.sql} where (select nothing_to_apply from "check_${i}") on conflict (provider_account_id, provider_event_id) do nothing returning id`,
          bindings: insert.bindings,
        },
      ],
    ] as const;
  });
  const outcomes = inKeyOrder.map((_, i) => `select ${i} as i, nothing_to_apply, exists (select 1 from "stored_${i}") as stored from "check_${i}"`);
  const { rows } = await runPrepared<{ i: number; nothing_to_apply: boolean; stored: boolean }>(
    knex,
    withParts(parts, { sql: outcomes.join(" union all "), bindings: [] }),
  );
  const byEvent = new Map<LoneEvent, LoneOutcome>();
  for (const { i, nothing_to_apply: nothing, stored } of rows) byEvent.set(inKeyOrder[i]!, !nothing ? "news" : stored ? "applied" : "duplicate");
  return events.map((event) => byEvent.get(event)!);
}

function compareKeys(a: StoredEvent, b: StoredEvent): number {
  if (a.provider_account_id !== b.provider_account_id) return a.provider_account_id < b.provider_account_id ? -1 : 1;
  return a.provider_event_id < b.provider_event_id ? -1 : a.provider_event_id > b.provider_event_id ? 1 : 0;
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
