import type { Knex } from "knex";
import { columnInSql, copyWith, newId, paginate, updateSql, type PageRequest, type Sql } from "@onerouter/core";
import type { EnvironmentName } from "./provider-accounts";
import type { OutcomeCounts } from "./select";

// The life of a provider-call attempt, the same in every room: started
// PENDING under its parent's row lock when no other attempt holds the
// parent, then settled once, from the status it was in, together with what
// it does to the parent. Each room keeps its own attempts table; every such
// table has an id, its parent's id, tenant_id, environment, provider,
// provider_account_id, status, the provider's id of the object, why routing
// chose the account (routing_reason), created_at and updated_at.

// What every attempt row has.
export interface AttemptRecord<State extends string = string> {
  id: string;
  tenant_id: string;
  environment: EnvironmentName;
  provider: string;
  provider_account_id: string;
  status: State;
  routing_reason: string;
  created_at: Date;
  updated_at: Date;
}

// What every parent row (payment, message) has.
export interface AttemptParent {
  id: string;
  tenant_id: string;
  environment: EnvironmentName;
  status: string;
}

export interface AttemptTableOptions<Parent extends AttemptParent, State extends string> {
  // What the attempts are for, e.g. "payment": its table is `payments`, the
  // attempts' `payment_attempts`, which name it in `payment_id`; the
  // provider's id of it is `provider_payment_id` in both.
  parent: string;
  idPrefix: string;
  // The parent's status while it waits for a provider.
  waiting: Parent["status"];
  // Attempts in these statuses hold the parent: no other may start.
  holding: readonly State[];
  // The finished statuses a provider's answer counts as a success, for SUCCESS_RATE.
  successful: readonly State[];
}

export class AttemptTable<Row extends AttemptRecord<State>, Parent extends AttemptParent, State extends string> {
  private readonly table: string;
  private readonly parentTable: string;
  private readonly parentColumn: string;
  private readonly providerIdColumn: string;

  constructor(
    private readonly knex: Knex,
    private readonly options: AttemptTableOptions<Parent, State>,
  ) {
    this.table = `${options.parent}_attempts`;
    this.parentTable = `${options.parent}s`;
    this.parentColumn = `${options.parent}_id`;
    this.providerIdColumn = `provider_${options.parent}_id`;
  }

  // The attempts of each parent, oldest first; a parent without attempts
  // gets an empty list.
  async byParent(parentIds: readonly string[], trx: Knex = this.knex): Promise<Map<string, Row[]>> {
    const { table, parentColumn } = this;
    const rows = (await trx(table)
      .whereIn(parentColumn, parentIds)
      .orderBy([{ column: "created_at" }, { column: "id" }])) as Row[];
    const byParent = new Map<string, Row[]>(parentIds.map((id) => [id, []]));
    for (const row of rows) byParent.get((row as unknown as Record<string, string>)[parentColumn]!)?.push(row);
    return byParent;
  }

  // A page of the parents `query` selects, each turned into its API message with its attempts.
  async pageOfParents<P extends { id: string; created_at: Date | string }, Message>(
    query: Knex.QueryBuilder,
    page: PageRequest,
    toMessage: (parent: P, attempts: Row[]) => Message,
  ): Promise<{ items: Message[]; nextPageToken: string }> {
    const { rows, nextPageToken } = await paginate<P>(query, page);
    const attempts = await this.byParent(rows.map((r) => r.id));
    return { items: rows.map((r) => toMessage(r, attempts.get(r.id) ?? [])), nextPageToken };
  }

  // One parent's attempts, oldest first.
  async of(parentId: string, trx: Knex = this.knex): Promise<Row[]> {
    return (await this.byParent([parentId], trx)).get(parentId)!;
  }

  async find(id: string): Promise<Row | undefined> {
    return (await this.knex(this.table).where({ id }).first()) as Row | undefined;
  }

  // A new PENDING attempt; the parent now names its account, with
  // `parentColumns` (what routing estimated there). Undefined when the
  // parent no longer waits for a provider or another attempt holds it.
  async start(
    parent: Parent,
    account: { id: string; provider: string; routingReason: string },
    columns: { attempt: Record<string, unknown>; parent: Record<string, unknown> },
  ): Promise<Row | undefined> {
    const { table, parentTable, parentColumn, providerIdColumn } = this;
    return this.knex.transaction(async (trx) => {
      const current = (await trx(parentTable).where({ id: parent.id }).forUpdate().first()) as Parent;
      if (current.status !== this.options.waiting) return undefined;
      const holder = await trx(table).where({ [parentColumn]: parent.id }).whereIn("status", this.options.holding).first();
      if (holder) return undefined;
      const row = await this.insert(trx, parent, account, columns.attempt);
      await trx(parentTable)
        .where({ id: parent.id })
        .update({ ...this.parentNaming(account), [providerIdColumn]: "", ...columns.parent, updated_at: row.created_at });
      return row;
    });
  }

  // The columns that make a parent name the account of its attempt, for a
  // parent written together with its first attempt.
  parentNaming(account: { id: string; provider: string }): Record<string, string> {
    return { provider: account.provider, provider_account_id: account.id };
  }

  // Writes a PENDING attempt in `trx`, whose caller holds the parent: one
  // written in `trx` itself (naming the account with parentNaming), or locked
  // and checked by start.
  async insert(
    trx: Knex,
    parent: Parent,
    account: { id: string; provider: string; routingReason: string },
    columns: Record<string, unknown>,
  ): Promise<Row> {
    const [row] = (await trx(this.table).insert(this.newRow(parent, account, columns)).returning("*")) as Row[];
    return row!;
  }

  // A PENDING attempt's row as insert writes it, for a caller that writes it
  // with its parent in one statement.
  newRow(parent: Parent, account: { id: string; provider: string; routingReason: string }, columns: Record<string, unknown>): Record<string, unknown> {
    const now = new Date();
    return {
      id: newId(this.options.idPrefix),
      [this.parentColumn]: parent.id,
      tenant_id: parent.tenant_id,
      environment: parent.environment,
      provider: account.provider,
      provider_account_id: account.id,
      routing_reason: account.routingReason,
      status: "pending",
      ...columns,
      created_at: now,
      updated_at: now,
    };
  }

  // The update settle starts with, as a write returning the attempt's id and
  // its parent's (`parent_id`) when it was still in one of `from`, for a
  // caller that changes the parent in the same statement.
  settleWrite(attemptId: string, from: readonly State[], patch: object, updatedAt: Date): Sql {
    const inFrom = columnInSql("status", from);
    const update = updateSql(this.table, copyWith(patch, { updated_at: updatedAt }), { sql: `"id" = ? and ${inFrom.sql}`, bindings: [attemptId, ...inFrom.bindings] });
    return { sql: `${update.sql} returning "id", "${this.parentColumn}" as "parent_id"`, bindings: update.bindings };
  }

  // Records an attempt's outcome if it is still in one of `from`, and then,
  // in the same transaction, what it does to the parent. Undefined when
  // something else settled it first.
  async settle<Changed>(
    attemptId: string,
    from: readonly State[],
    patch: { status: State },
    change: (attempt: Row, trx: Knex.Transaction) => Promise<Changed>,
    trx?: Knex.Transaction,
  ): Promise<Changed | undefined> {
    const run = async (t: Knex.Transaction) => {
      const [attempt] = (await t(this.table)
        .where({ id: attemptId })
        .whereIn("status", from)
        .update({ ...patch, updated_at: new Date() })
        .returning("*")) as Row[];
      return attempt ? change(attempt, t) : undefined;
    };
    return trx ? run(trx) : this.knex.transaction(run);
  }

  // Marks an attempt as looked at, so a resolver's next round waits its turn.
  async touch(attemptId: string): Promise<void> {
    await this.knex(this.table).where({ id: attemptId }).update({ updated_at: new Date() });
  }

  // How the finished attempts on each account went since `since`, for
  // routing by success rate: PENDING and UNKNOWN attempts have no outcome
  // yet and do not count.
  async outcomes(
    scope: { tenantId: string; environment: EnvironmentName },
    accountIds: readonly string[],
    since: Date,
  ): Promise<Map<string, OutcomeCounts>> {
    const { successful } = this.options;
    const rows = (await this.knex(this.table)
      .select("provider_account_id")
      .count({ attempts: "*" })
      .select(this.knex.raw(`count(*) filter (where status in (${successful.map(() => "?").join(", ")})) as successes`, [...successful]))
      .where({ tenant_id: scope.tenantId, environment: scope.environment })
      .whereIn("provider_account_id", accountIds)
      .whereNotIn("status", ["pending", "unknown"])
      .andWhere("created_at", ">=", since)
      .groupBy("provider_account_id")) as { provider_account_id: string; attempts: unknown; successes: unknown }[];
    return new Map(rows.map((r) => [r.provider_account_id, { attempts: Number(r.attempts), successes: Number(r.successes) }]));
  }
}
