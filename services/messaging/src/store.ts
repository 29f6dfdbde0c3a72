import type { ProviderError } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import type { EventType } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import type { Message } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { appendEvent, environmentFromName, isContact, jsonColumn, newId, whereCreatedIn, type BindResource, type Contact, type Knex, type PageRequest, type Sql } from "@onerouter/core";
import { AttemptTable, maskInInboundEvents, storedProviderError, type EnvironmentName } from "@onerouter/routing";
import type { ProviderFailure } from "@onerouter/routing";
import type { MessageStatusEvent } from "./connectors/connector";
import { storedContent, toMessage } from "./mapping";
import type { AttemptRow, MessageFilter, MessageRow } from "./rows";
import { attemptCanMove, attemptStatuses, canTransition, eventTypes, stateFromProvider, type AttemptState, type MessageState } from "./state";
import type { NewMessage } from "./validation";

// Persistence of messages, attempts and delivery callbacks. Every change of
// a message's status is written with its outbox events in one transaction;
// nothing here calls a provider, so no transaction ever waits on one.

export interface Scope {
  tenantId: string;
  environment: EnvironmentName;
  // The calling key, recorded on what it creates.
  apiKeyId?: string;
}

export interface MessageChange {
  // Applied only when the message's current status allows it.
  status?: MessageState;
  // Set when the message has none yet.
  providerMessageId?: string;
  // ProviderError as stored JSON.
  error?: string | null;
}

export interface AttemptPatch {
  status: AttemptState;
  error?: string | null;
  latency_ms?: number;
  provider_message_id?: string;
}

// Attempts the provider took, for SUCCESS_RATE; failed ones count against.
const acceptedAttempts: AttemptState[] = ["sent", "delivered", "undelivered"];

// Attempts a provider may have taken: every one but a provable failure.
const takenAttempts: AttemptState[] = ["pending", "unknown", "sent", "delivered", "undelivered"];

export class MessageStore {
  readonly attempts: AttemptTable<AttemptRow, MessageRow, AttemptState>;

  constructor(private readonly knex: Knex) {
    this.attempts = new AttemptTable(knex, { parent: "message", idPrefix: "matt", waiting: "queued", holding: takenAttempts, successful: acceptedAttempts });
  }

  // `bind` ties the request's Idempotency-Key to the message in the same transaction.
  async createMessage(scope: Scope, input: NewMessage, bind: BindResource): Promise<MessageRow> {
    const now = new Date();
    return this.knex.transaction(async (trx) => {
      const [row] = (await trx("messages")
        .insert({
          id: newId("msg"),
          tenant_id: scope.tenantId,
          environment: scope.environment,
          channel: input.content.case,
          status: "queued",
          content: storedContent(input.content),
          metadata: JSON.stringify(input.metadata),
          country: input.country,
          segments: input.segments,
          encoding: input.encoding,
          billable_units: input.billableUnits,
          api_key_id: scope.apiKeyId ?? "",
          created_at: now,
          updated_at: now,
        })
        .returning("*")) as MessageRow[];
      await bind(trx, row!.id);
      return row!;
    });
  }

  async findMessage(scope: Scope, id: string): Promise<MessageRow | undefined> {
    return (await this.knex("messages")
      .where({ id, tenant_id: scope.tenantId, environment: scope.environment })
      .first()) as MessageRow | undefined;
  }

  async messageById(id: string): Promise<MessageRow> {
    return (await this.knex("messages").where({ id }).first()) as MessageRow;
  }

  async toMessage(row: MessageRow, trx: Knex = this.knex): Promise<Message> {
    return toMessage(row, await this.attempts.of(row.id, trx));
  }

  async listMessages(scope: Scope, filter: MessageFilter, page: PageRequest): Promise<{ messages: Message[]; nextPageToken: string }> {
    const query = this.knex("messages").where({ tenant_id: scope.tenantId, environment: scope.environment });
    if (filter.channel) query.andWhere("channel", filter.channel);
    if (filter.status) query.andWhere("status", filter.status);
    if (filter.provider) query.andWhere("provider", filter.provider);
    whereCreatedIn(query, filter.createTime);
    const { items, nextPageToken } = await this.attempts.pageOfParents(query, page, toMessage);
    return { messages: items, nextPageToken };
  }

  // A new PENDING attempt; the message now names its account and the price
  // routing estimated there. Undefined when the message is no longer queued
  // or an attempt of it may have been taken by a provider: a message is
  // handed to at most one provider.
  async startAttempt(
    message: MessageRow,
    account: { id: string; provider: string; routingReason: string },
    // What routing estimated the account charges, beside what the alternatives would have.
    price: { fee: bigint; highest: bigint; default: bigint; currency: string } | undefined,
  ): Promise<AttemptRow | undefined> {
    const micros = (price?.fee ?? 0n).toString();
    return this.attempts.start(message, account, {
      attempt: { price_micros: micros },
      parent: {
        price_micros: micros,
        price_currency: price?.currency ?? "",
        highest_eligible_price_micros: (price?.highest ?? 0n).toString(),
        default_provider_price_micros: (price?.default ?? 0n).toString(),
      },
    });
  }

  // Records an attempt's outcome and what it does to the message, in one
  // transaction, if the attempt is still in one of `from`. Undefined when
  // something else (a callback) settled it first.
  async settleAttempt(
    attemptId: string,
    from: readonly AttemptState[],
    patch: AttemptPatch,
    change: MessageChange,
  ): Promise<MessageRow | undefined> {
    return this.attempts.settle(attemptId, from, patch, (attempt, trx) => this.changeMessage(attempt.message_id, change, trx));
  }

  // Locks the message and applies the change when its status allows it,
  // with the events the change of status calls for.
  async changeMessage(messageId: string, change: MessageChange, outer?: Knex.Transaction): Promise<MessageRow> {
    const run = async (trx: Knex.Transaction) => {
      const current = (await trx("messages").where({ id: messageId }).forUpdate().first()) as MessageRow;
      const to = change.status ?? current.status;
      if (to !== current.status && !canTransition(current.status, to)) return current;
      const now = new Date();
      const patch: Record<string, unknown> = { status: to, updated_at: now };
      if (change.providerMessageId && current.provider_message_id === "") patch.provider_message_id = change.providerMessageId;
      if (change.error !== undefined) patch.error = change.error;
      if (to !== "queued" && to !== "failed" && current.sent_at === null) patch.sent_at = now;
      if (to === "delivered" && current.delivered_at === null) patch.delivered_at = now;
      const [row] = (await trx("messages").where({ id: messageId }).update(patch).returning("*")) as MessageRow[];
      if (to !== current.status) {
        for (const type of eventTypes(current.status, to)) await this.messageEvent(trx, type, row!);
      }
      return row!;
    };
    return outer ? run(outer) : this.knex.transaction(run);
  }

  // A condition true when applyCallback would change nothing (no attempt
  // the callback can move), for the inbound route to store such a callback
  // in one statement.
  callbackChangesNothing(accountId: string, event: MessageStatusEvent): Sql {
    if (!event.attemptId && !event.providerMessageId) return { sql: "true", bindings: [] };
    const to = stateFromProvider(event.status);
    const movable = (Object.keys(attemptStatuses) as AttemptState[]).filter((from) => attemptCanMove(from, to));
    if (movable.length === 0) return { sql: "true", bindings: [] };
    // The attempt is looked up by our id alone when the callback has it, and
    // only then checked as the account's: the check runs prepared, and with
    // the account beside the id a plan made while the attempts were few (a
    // fresh database) takes the index that leads with the account and reads
    // all of its attempts for every callback.
    const attempt = event.attemptId
      ? { sql: "id = ?", bindings: [event.attemptId] }
      : { sql: "provider_account_id = ? and provider_message_id = ?", bindings: [accountId, event.providerMessageId] };
    return {
      sql:
        `not exists (with a as materialized (select provider_account_id, status from message_attempts where ${attempt.sql}) ` +
        `select 1 from a where provider_account_id = ? and status in (${movable.map(() => "?").join(", ")}))`,
      bindings: [...attempt.bindings, accountId, ...movable],
    };
  }

  // Applies a verified status change, newly stored by the inbound route in
  // the transaction `trx`: the attempt it is about moves on, and its message
  // with it. Failover happens only when nothing was sent, so at most one
  // attempt of a message is ever taken by a provider.
  async applyCallback(
    trx: Knex.Transaction,
    accountId: string,
    event: MessageStatusEvent,
    providerError: (failure: ProviderFailure) => ProviderError,
  ): Promise<void> {
    const error = event.failure ? storedProviderError(providerError(event.failure))! : undefined;
    if (!event.attemptId && !event.providerMessageId) return;
    const attempt = (await trx("message_attempts")
      .where(event.attemptId ? { id: event.attemptId } : { provider_message_id: event.providerMessageId })
      .andWhere({ provider_account_id: accountId })
      .forUpdate()
      .first()) as AttemptRow | undefined;
    const to = stateFromProvider(event.status);
    if (!attempt || !attemptCanMove(attempt.status, to)) return;
    await trx("message_attempts")
      .where({ id: attempt.id })
      .update({
        status: to,
        provider_message_id: attempt.provider_message_id || event.providerMessageId,
        ...(error !== undefined && { error }),
        updated_at: new Date(),
      });
    await this.changeMessage(attempt.message_id, { status: to, providerMessageId: event.providerMessageId, error }, trx);
  }

  private async messageEvent(trx: Knex.Transaction, type: EventType, row: MessageRow) {
    await appendEvent(trx, {
      type,
      tenantId: row.tenant_id,
      environment: environmentFromName(row.environment),
      data: { case: "message", value: { message: await this.toMessage(row, trx) } },
    });
  }
}

interface StoredAddress {
  email?: string;
  name?: string;
}

// Proto3 JSON of SmsContent or EmailContent, as stored.
interface StoredContent {
  to?: string | StoredAddress[];
  from?: string | StoredAddress;
  cc?: StoredAddress[];
  bcc?: StoredAddress[];
  replyTo?: StoredAddress;
}

// Everyone a message names as recipient or sender: email addresses or phone numbers.
function parties(content: StoredContent): { address: string; name?: string }[] {
  const listed = [content.from, content.replyTo, content.to, content.cc, content.bcc].flat();
  return listed.flatMap((party) => {
    if (typeof party === "string") return [{ address: party }];
    return party?.email ? [{ address: party.email, name: party.name }] : [];
  });
}

const likePattern = (value: string) => `%${value.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

// Erases a person's contact data from the tenant's messages: every message
// to or from them loses its recipients, senders and body (what was sent went
// to them); their traces in stored delivery callbacks are overwritten. Status,
// segments, prices, ids and timestamps stay. Returns the messages redacted
// per environment and the stored forms of the contact found (and the names
// beside them), for the caller to erase from what other rooms keep.
export async function eraseMessageContact(
  trx: Knex,
  tenantId: string,
  contact: Contact,
): Promise<{ messages: Record<EnvironmentName, number>; found: string[]; names: string[] }> {
  const given = [contact.email, contact.phone].filter((v): v is string => !!v);
  const candidates = (await trx("messages")
    .where({ tenant_id: tenantId })
    .where((q) => {
      for (const value of given) q.orWhereRaw("content::text ilike ?", [likePattern(value)]);
    })
    .select("id", "environment", "content")
    .forUpdate()) as Pick<MessageRow, "id" | "environment" | "content">[];
  const messages: Record<EnvironmentName, number> = { test: 0, live: 0 };
  const found = new Set<string>();
  const names = new Set<string>();
  for (const row of candidates) {
    const matching = parties(jsonColumn(row.content) as StoredContent).filter((p) => isContact(contact, p.address));
    if (matching.length === 0) continue;
    for (const party of matching) {
      found.add(party.address);
      if (party.name) names.add(party.name);
    }
    await trx("messages").where({ id: row.id }).update({ content: JSON.stringify({}), updated_at: new Date() });
    messages[row.environment]++;
  }
  await maskInInboundEvents(trx, tenantId, "messaging", [...found, ...given], [...names]);
  return { messages, found: [...found], names: [...names] };
}
