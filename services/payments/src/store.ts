import type { ProviderError } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import type { TimeRange } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { EventType } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import type { Payment } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { appendEvent, columnInSql, columnsEqualSql, copyWith, environmentFromName, insertRowSql, jsonColumn, newId, outboxEvent, paginate, runPrepared, signalOutboxCommit, updateSql, whereCreatedIn, withParts, writeTogether, type BindResource, type Contact, type IdempotencyClaim, type Knex, type PageRequest, type Sql } from "@onerouter/core";
import { AttemptTable, comparedFees, maskInInboundEvents, type FeeAlternatives, storedProviderError as storedError, type EnvironmentName } from "@onerouter/routing";
import type { PaymentWebhookEvent, ProviderFailure, ProviderPaymentStatus } from "./connectors/connector";
import { toPayment, toRefund } from "./mapping";
import type { AttemptRow, PaymentRow, RefundRow } from "./rows";
import { canTransition, eventTypes, paymentStatuses, refundEventTypes, statesFromProvider, type AttemptState, type PaymentState, type RefundState } from "./state";

// Persistence of payments, attempts and refunds. Every change of status is
// written with its outbox event in one transaction; nothing here calls a
// provider, so no transaction ever waits on one.

export interface Scope {
  tenantId: string;
  environment: EnvironmentName;
  // The calling key, recorded on what it creates.
  apiKeyId?: string;
}

// Columns a change of a payment may set; amounts as bigint, errors as stored JSON.
export interface PaymentPatch {
  provider?: string;
  provider_account_id?: string;
  provider_payment_id?: string;
  redirect_url?: string;
  amount_capturable?: bigint;
  amount_captured?: bigint;
  error?: string | null;
}

export interface PaymentChange {
  // Applied only when the payment's current status allows it.
  status?: PaymentState;
  patch?: PaymentPatch;
}

export interface AttemptPatch {
  status: AttemptState;
  error?: string | null;
  latency_ms?: number;
  provider_payment_id?: string;
}

export interface NewPayment {
  amount: bigint;
  currency: string;
  captureMethod: "automatic" | "manual";
  customer: Record<string, string>;
  description: string;
  metadata: Record<string, string>;
  paymentMethodToken: string;
  paymentMethodProviderTokens: Record<string, string>;
  returnUrl: string;
}

// The account routing chose first for a new payment, with what it estimated.
export interface FirstAttempt {
  account: { id: string; provider: string };
  reason: string;
  estimatedFee: bigint | undefined;
  alternatives: FeeAlternatives;
}

export interface PaymentFilter {
  status?: PaymentState;
  provider?: string;
  createTime?: TimeRange;
}

const paymentStates = Object.keys(paymentStatuses) as PaymentState[];

// Attempts whose call is in flight or whose outcome is not known yet.
const openAttempts: AttemptState[] = ["pending", "unknown"];

// Attempt statuses a provider's answer counts as a success, for SUCCESS_RATE.
const successfulAttempts: AttemptState[] = ["succeeded", "requires_capture", "requires_action"];

function stringify(patch: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(patch).map(([k, v]) => [k, typeof v === "bigint" ? v.toString() : v]));
}

// The columns of `patch` an update writes: knex leaves undefined ones out.
function definedOnly<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined)) as Partial<T>;
}

// What a request knows of a payment it settles: all of its attempts and,
// unless another process may have changed it since, the payment as the
// request last wrote it. With `claim`, the settlement ends the request and
// stores its answer, the payment as settled.
export interface KnownPayment {
  attempts: readonly AttemptRow[];
  payment?: PaymentRow;
  claim?: Pick<IdempotencyClaim<Payment>, "answerWrite" | "answerWriteIf">;
}

// A settled payment; with a KnownPayment, its attempts and (with a claim) the answer stored.
export interface Settled {
  payment: PaymentRow;
  attempts?: AttemptRow[];
  answer?: Payment;
}

// The payment's attempts once `settling` is settled with `patch`: it was in
// one of the statuses it was settled from, so it is as the request knew it
// but for the patch.
function settledAttempts(known: KnownPayment, settling: AttemptRow, patch: AttemptPatch, now: Date): AttemptRow[] {
  const attempt: AttemptRow = copyWith(copyWith(settling, definedOnly(patch)), { updated_at: now });
  return known.attempts.map((a) => (a.id === attempt.id ? attempt : a));
}

// What applying a webhook reads of the attempt's payment, beside the attempt.
interface WebhookPaymentColumns {
  payment_amount: PaymentRow["amount"];
  payment_status: PaymentState;
  payment_provider_account_id: string;
  payment_provider_payment_id: string;
}

// A payment row as a change returned it, with the status it had before.
type ChangedPayment = PaymentRow & { previous_status: PaymentState };

// The parts of a statement that change the payment whose id `paymentId`
// gives: "changed" returns it with its previous status. With a status, the
// payment is locked and changed in the statement only when its status allows it.
function paymentChangeParts(paymentId: Sql, change: PaymentChange, now: Date): [string, Sql][] {
  const columns = Object.entries(copyWith(stringify(change.patch ?? {}), { updated_at: now })).filter(([, value]) => value !== undefined);
  const assignments = columns.map(() => "?? = ?").join(", ");
  const values = columns.flat();
  const to = change.status;
  if (to === undefined) {
    return [
      [
        "changed",
        { sql: `update payments set ${assignments} where id = ${paymentId.sql} returning payments.*, payments.status as previous_status`, bindings: [...values, ...paymentId.bindings] },
      ],
    ];
  }
  const from = paymentStates.filter((state) => state === to || canTransition(state, to));
  return [
    ["current", { sql: `select status from payments where id = ${paymentId.sql} for update`, bindings: paymentId.bindings }],
    [
      "changed",
      {
        sql: `update payments set ${assignments}, status = ? from "current" where payments.id = ${paymentId.sql} and "current".status in (${from.map(() => "?").join(", ")}) returning payments.*, "current".status as previous_status`,
        bindings: [...values, to, ...paymentId.bindings, ...from],
      },
    ],
  ];
}

export class PaymentStore {
  readonly attempts: AttemptTable<AttemptRow, PaymentRow, AttemptState>;

  constructor(private readonly knex: Knex) {
    this.attempts = new AttemptTable(knex, { parent: "payment", idPrefix: "att", waiting: "processing", holding: openAttempts, successful: successfulAttempts });
  }

  // The claim ties the request's Idempotency-Key to the payment. With
  // `first`, the payment is written with its first attempt, which routing
  // chose before. The key, the payment, the attempt and payment.created are
  // one statement before the provider call: a request whose key is taken
  // writes nothing.
  async createPayment(scope: Scope, input: NewPayment, claim: Pick<IdempotencyClaim, "bindWrite">, first?: FirstAttempt): Promise<{ payment: PaymentRow; attempt?: AttemptRow }> {
    const now = new Date();
    const fees = first && comparedFees(first.estimatedFee, first.alternatives);
    const payment: PaymentRow = {
      id: newId("pay"),
      tenant_id: scope.tenantId,
      environment: scope.environment,
      amount: input.amount.toString(),
      currency: input.currency,
      capture_method: input.captureMethod,
      status: "processing",
      customer: input.customer,
      description: input.description,
      metadata: input.metadata,
      payment_method_token: input.paymentMethodToken,
      payment_method_provider_tokens: input.paymentMethodProviderTokens,
      return_url: input.returnUrl,
      api_key_id: scope.apiKeyId ?? "",
      provider: "",
      provider_account_id: "",
      provider_payment_id: "",
      redirect_url: "",
      amount_capturable: "0",
      amount_captured: "0",
      amount_refunded: "0",
      error: null,
      fee: fees?.fee.toString() ?? "0",
      highest_eligible_fee: fees?.highest.toString() ?? "0",
      default_provider_fee: fees?.default.toString() ?? "0",
      ...(first && this.attempts.parentNaming(first.account)),
      created_at: now,
      updated_at: now,
    };
    const attempt =
      first && fees
        ? (this.attempts.newRow(payment, copyWith(first.account, { routingReason: first.reason }), {
            estimated_fee: fees.fee.toString(),
            error: null,
            latency_ms: 0,
            provider_payment_id: "",
          }) as unknown as AttemptRow)
        : undefined;
    const { row: event } = this.paymentEventRow(EventType.PAYMENT_CREATED, payment, attempt ? [attempt] : []);
    const claimed = claim.bindWrite(payment.id);
    const parts: [string, Sql][] = claimed ? [["claim", claimed.write]] : [];
    // Each write goes ahead only when the one before it was made, the key's first.
    const add = (name: string, { sql, bindings }: Sql) => {
      const after = parts.at(-1)?.[0];
      parts.push([name, { sql: `${sql}${after ? ` where exists (select from "${after}")` : ""} returning 1`, bindings }]);
    };
    add("payment", insertRowSql("payments", payment as unknown as Record<string, unknown>));
    if (attempt) add("attempt", insertRowSql("payment_attempts", attempt as unknown as Record<string, unknown>));
    add("event", insertRowSql("outbox_events", event));
    const { sql, bindings } = withParts(parts, { sql: 'select count(*)::int as written from "payment"', bindings: [] });
    const { rows } = await runPrepared<{ written: number }>(this.knex, { sql, bindings });
    claimed?.bound(rows[0]!.written);
    signalOutboxCommit(this.knex);
    return { payment, ...(attempt && { attempt }) };
  }

  async findPayment(scope: Scope, id: string, trx: Knex = this.knex): Promise<PaymentRow | undefined> {
    return (await trx("payments")
      .where({ id, tenant_id: scope.tenantId, environment: scope.environment })
      .first()) as PaymentRow | undefined;
  }

  async paymentById(id: string): Promise<PaymentRow> {
    return (await this.knex("payments").where({ id }).first()) as PaymentRow;
  }

  // `attempts`, when given, are all of the payment's attempts.
  async toPayment(row: PaymentRow, trx: Knex = this.knex, attempts?: readonly AttemptRow[]): Promise<Payment> {
    return toPayment(row, attempts ?? (await this.attempts.of(row.id, trx)));
  }

  async listPayments(scope: Scope, filter: PaymentFilter, page: PageRequest): Promise<{ payments: Payment[]; nextPageToken: string }> {
    const query = this.knex("payments").where({ tenant_id: scope.tenantId, environment: scope.environment });
    if (filter.status) query.andWhere("status", filter.status);
    if (filter.provider) query.andWhere("provider", filter.provider);
    whereCreatedIn(query, filter.createTime);
    const { items, nextPageToken } = await this.attempts.pageOfParents(query, page, toPayment);
    return { payments: items, nextPageToken };
  }

  // A new PENDING attempt; the payment now names its account. Undefined
  // when the payment is no longer processing or has an attempt whose
  // outcome is open: one provider at a time may hold a payment's money, and
  // whoever runs that attempt carries the payment on.
  // The payment keeps the fee with what the alternatives would have charged, for savings.
  async startAttempt(
    payment: PaymentRow,
    account: { id: string; provider: string; routingReason: string },
    estimatedFee: bigint | undefined,
    alternatives: FeeAlternatives,
  ): Promise<AttemptRow | undefined> {
    const fees = comparedFees(estimatedFee, alternatives);
    return this.attempts.start(payment, account, {
      attempt: { estimated_fee: fees.fee.toString() },
      parent: { fee: fees.fee.toString(), highest_eligible_fee: fees.highest.toString(), default_provider_fee: fees.default.toString() },
    });
  }

  // Records an attempt's outcome and what it does to the payment, in one
  // transaction, if the attempt is still in one of `from`. Undefined when
  // another process settled it first. `known`, when the caller knows all of
  // the payment's attempts, spares reading them again (see settleKnownAttempt).
  async settleAttempt(
    attemptId: string,
    from: readonly AttemptState[],
    patch: AttemptPatch,
    change: PaymentChange,
    trx?: Knex.Transaction,
    known?: KnownPayment,
  ): Promise<Settled | undefined> {
    const settling = known?.attempts.find((a) => a.id === attemptId);
    if (known && settling && !trx) return this.settleKnownAttempt(settling, from, patch, change, known);
    return this.attempts.settle(attemptId, from, patch, async (attempt, t) => ({ payment: await this.changePayment(attempt.payment_id, change, t) }), trx);
  }

  // A settlement whose request knows the payment's attempts: one statement
  // when the request also knows the payment and nothing changed under it,
  // else a transaction of one statement that settles and changes and one
  // that writes the events and the request's answer.
  private async settleKnownAttempt(
    settling: AttemptRow,
    from: readonly AttemptState[],
    patch: AttemptPatch,
    change: PaymentChange,
    known: KnownPayment,
  ): Promise<Settled | undefined> {
    const settled = known.payment && (await this.settleUnchanged(settling, known.payment, from, patch, change, known));
    return settled ?? this.settleKnownInTransaction(settling, from, patch, change, known);
  }

  // The settlement as one statement, computed here in full beforehand (the
  // settled rows, the events, the answer): it writes only when the attempt
  // is still in one of `from` and the payment still has the status and
  // updated_at this request knew, else nothing. It locks as every
  // settlement does, the attempt first and then the payment, and settles
  // the attempt only under the payment's lock, so the two are written
  // together or not at all. Under READ COMMITTED, a row that another
  // transaction changed while the statement waited for its lock is checked
  // again in its new version, so a change committed at any moment before
  // makes it write nothing. Undefined when it wrote nothing, or when the
  // payment's status does not allow the change: what is there now decides.
  private async settleUnchanged(
    settling: AttemptRow,
    current: PaymentRow,
    from: readonly AttemptState[],
    patch: AttemptPatch,
    change: PaymentChange,
    known: KnownPayment,
  ): Promise<Settled | undefined> {
    const to = change.status;
    if (to !== undefined && to !== current.status && !canTransition(current.status, to)) return undefined;
    const now = new Date();
    const paymentColumns = copyWith(stringify(definedOnly(change.patch ?? {})), to !== undefined ? { status: to, updated_at: now } : { updated_at: now });
    const payment = copyWith(current, paymentColumns) as PaymentRow;
    const attempts = settledAttempts(known, settling, patch, now);
    const events = to === undefined || to === current.status ? [] : eventTypes(current.status, to);
    const answer = known.claim && toPayment(payment, attempts);
    const answered = answer && known.claim!.answerWriteIf(answer, "changed");
    const knex = this.knex;
    const attemptFrom = columnInSql("status", from);
    const paymentKnown = columnsEqualSql({ id: current.id, status: current.status, updated_at: current.updated_at });
    const attemptUpdate = updateSql("payment_attempts", copyWith(patch, { updated_at: now }), { sql: `"id" = ? and exists (select from "payment_locked")`, bindings: [settling.id] });
    const paymentUpdate = updateSql("payments", paymentColumns, { sql: `"id" = ? and exists (select from "attempt")`, bindings: [current.id] });
    const parts: [string, Sql][] = [
      ["attempt_locked", { sql: `select "id" from "payment_attempts" where "id" = ? and ${attemptFrom.sql} for update`, bindings: [settling.id, ...attemptFrom.bindings] }],
      [
        "payment_locked",
        { sql: `select "id" from "payments" where ${paymentKnown.sql} and exists (select from "attempt_locked") for update`, bindings: paymentKnown.bindings },
      ],
      ["attempt", { sql: `${attemptUpdate.sql} returning "id"`, bindings: attemptUpdate.bindings }],
      ["changed", { sql: `${paymentUpdate.sql} returning "id"`, bindings: paymentUpdate.bindings }],
      ...events.map((type, i): [string, Sql] => {
        const { sql, bindings } = insertRowSql("outbox_events", this.paymentEventRow(type, payment, attempts).row);
        return [`event_${i}`, { sql: `${sql} where exists (select from "changed")`, bindings }];
      }),
      ...(answered ? [["answer", answered.write] as [string, Sql]] : []),
    ];
    const { rows } = await runPrepared<{ applied: number }>(knex, withParts(parts, { sql: 'select count(*)::int as applied from "changed"', bindings: [] }));
    if (rows[0]!.applied === 0) return undefined;
    answered?.written();
    if (events.length > 0) signalOutboxCommit(knex);
    return { payment, attempts, ...(answer && { answer }) };
  }

  // The settlement from what is there now, the payment locked and read again.
  private async settleKnownInTransaction(
    settling: AttemptRow,
    from: readonly AttemptState[],
    patch: AttemptPatch,
    change: PaymentChange,
    known: KnownPayment,
  ): Promise<Settled | undefined> {
    return this.knex.transaction(async (trx) => {
      const now = new Date();
      const { sql, bindings } = withParts(
        [["attempt", this.attempts.settleWrite(settling.id, from, patch, now)], ...paymentChangeParts({ sql: '(select parent_id from "attempt")', bindings: [] }, change, now)],
        { sql: 'select (select count(*)::int from "attempt") as settled, "changed".* from (select 1) as one left join "changed" on true', bindings: [] },
      );
      const { rows } = await runPrepared<ChangedPayment & { settled: number }>(trx, { sql, bindings });
      const { settled, ...changed } = rows[0]!;
      if (settled === 0) return undefined;
      const attempts = settledAttempts(known, settling, patch, now);
      const { payment, events } = await this.changedPayment(settling.payment_id, change, changed.id === null ? undefined : changed, trx);
      const writes = events.map((type) => insertRowSql("outbox_events", this.paymentEventRow(type, payment, attempts).row));
      const answer = known.claim && toPayment(payment, attempts);
      const answerWrite = answer && known.claim!.answerWrite(answer);
      await writeTogether(trx, [...writes, ...(answerWrite ? [answerWrite] : [])]);
      if (events.length > 0) signalOutboxCommit(trx);
      return { payment, attempts, ...(answer && { answer }) };
    });
  }

  // Locks the payment and applies the change when its status allows it,
  // with the events the change of status calls for. `attempts`, when given,
  // are all of the payment's attempts.
  async changePayment(paymentId: string, change: PaymentChange, trx?: Knex.Transaction, attempts?: readonly AttemptRow[]): Promise<PaymentRow> {
    const run = async (t: Knex.Transaction) => {
      const { sql, bindings } = withParts(paymentChangeParts({ sql: "?", bindings: [paymentId] }, change, new Date()), { sql: 'select * from "changed"', bindings: [] });
      const { rows } = (await t.raw(sql, bindings as Knex.RawBinding[])) as { rows: ChangedPayment[] };
      const { payment, events } = await this.changedPayment(paymentId, change, rows[0], t);
      for (const type of events) await this.paymentEvent(t, type, payment, attempts);
      return payment;
    };
    return trx ? run(trx) : this.knex.transaction(run);
  }

  // The payment as a change left it (`changed`, or read again when its
  // status did not allow the change), with the events the change calls for.
  private async changedPayment(
    paymentId: string,
    change: PaymentChange,
    changed: ChangedPayment | undefined,
    trx: Knex.Transaction,
  ): Promise<{ payment: PaymentRow; events: EventType[] }> {
    if (!changed) return { payment: (await trx("payments").where({ id: paymentId }).first()) as PaymentRow, events: [] };
    const { previous_status: previous, ...payment } = changed;
    const to = change.status;
    return { payment, events: to === undefined || to === previous ? [] : eventTypes(previous, to) };
  }

  // UNKNOWN attempts last looked at before `unknownBefore`, and PENDING ones
  // untouched since `pendingBefore` (their process died mid-call, or the
  // provider said it was still processing).
  async unresolvedAttempts(unknownBefore: Date, pendingBefore: Date, limit: number): Promise<AttemptRow[]> {
    return (await this.knex("payment_attempts")
      .where((q) =>
        q
          .where((u) => u.where("status", "unknown").andWhere("updated_at", "<", unknownBefore))
          .orWhere((p) => p.where("status", "pending").andWhere("updated_at", "<", pendingBefore)),
      )
      .orderBy("updated_at")
      .limit(limit)) as AttemptRow[];
  }

  // Reserves `amount` of the payment's refundable amount for a new PENDING
  // refund, under the payment's row lock so concurrent refunds cannot
  // together exceed what was captured. `check` sees the locked payment and
  // throws when the refund is not allowed; it returns the amount to refund.
  async reserveRefund(
    scope: Scope,
    paymentId: string,
    check: (payment: PaymentRow) => bigint,
    input: { reason: string; metadata: Record<string, string> },
    bind: BindResource,
  ): Promise<{ refund: RefundRow; payment: PaymentRow } | undefined> {
    return this.knex.transaction(async (trx) => {
      const payment = (await trx("payments")
        .where({ id: paymentId, tenant_id: scope.tenantId, environment: scope.environment })
        .forUpdate()
        .first()) as PaymentRow | undefined;
      if (!payment) return undefined;
      const amount = check(payment);
      const now = new Date();
      const [refund] = (await trx("refunds")
        .insert({
          id: newId("re"),
          payment_id: payment.id,
          tenant_id: payment.tenant_id,
          environment: payment.environment,
          amount: amount.toString(),
          currency: payment.currency,
          status: "pending",
          reason: input.reason,
          provider: payment.provider,
          provider_account_id: payment.provider_account_id,
          metadata: JSON.stringify(input.metadata),
          created_at: now,
          updated_at: now,
        })
        .returning("*")) as RefundRow[];
      await bind(trx, refund!.id);
      const [updated] = (await trx("payments")
        .where({ id: payment.id })
        .update({ amount_refunded: (BigInt(payment.amount_refunded) + amount).toString(), updated_at: now })
        .returning("*")) as PaymentRow[];
      return { refund: refund!, payment: updated! };
    });
  }

  // Moves a PENDING refund on: SUCCEEDED or FAILED with its event (a failed
  // refund gives its amount back), or stays PENDING with what the provider
  // said. Undefined when it was no longer pending.
  async settleRefund(
    refundId: string,
    patch: { status: RefundState; provider_refund_id?: string; error?: string | null },
    trx?: Knex.Transaction,
  ): Promise<{ refund: RefundRow; payment: PaymentRow } | undefined> {
    const run = async (t: Knex.Transaction) => {
      const [refund] = (await t("refunds")
        .where({ id: refundId, status: "pending" })
        .update({ ...patch, updated_at: new Date() })
        .returning("*")) as RefundRow[];
      if (!refund) return undefined;
      let payment = (await t("payments").where({ id: refund.payment_id }).forUpdate().first()) as PaymentRow;
      if (refund.status === "failed") {
        const [released] = (await t("payments")
          .where({ id: payment.id })
          .update({ amount_refunded: (BigInt(payment.amount_refunded) - BigInt(refund.amount)).toString(), updated_at: new Date() })
          .returning("*")) as PaymentRow[];
        payment = released!;
      }
      if (refund.status !== "pending") await this.refundEvent(t, refundEventTypes[refund.status], refund, payment);
      return { refund, payment };
    };
    return trx ? run(trx) : this.knex.transaction(run);
  }

  async findRefund(scope: Scope, id: string): Promise<RefundRow | undefined> {
    return (await this.knex("refunds")
      .where({ id, tenant_id: scope.tenantId, environment: scope.environment })
      .first()) as RefundRow | undefined;
  }

  async listRefunds(scope: Scope, paymentId: string, page: PageRequest) {
    const query = this.knex("refunds").where({ tenant_id: scope.tenantId, environment: scope.environment });
    if (paymentId !== "") query.andWhere("payment_id", paymentId);
    const { rows, nextPageToken } = await paginate<RefundRow>(query, page);
    return { refunds: rows.map(toRefund), nextPageToken };
  }

  // PENDING refunds whose provider call never answered, untouched since `before`.
  async unsentRefunds(before: Date, limit: number): Promise<RefundRow[]> {
    return (await this.knex("refunds")
      .where({ status: "pending", provider_refund_id: "" })
      .andWhere("updated_at", "<", before)
      .orderBy("updated_at")
      .limit(limit)) as RefundRow[];
  }

  async touchRefund(refundId: string): Promise<void> {
    await this.knex("refunds").where({ id: refundId }).update({ updated_at: new Date() });
  }

  // Applies a verified webhook, newly stored by the inbound route in the
  // transaction `trx`, to the payment or refund it names.
  async applyWebhook(
    trx: Knex.Transaction,
    accountId: string,
    event: PaymentWebhookEvent,
    providerError: (failure: ProviderFailure) => ProviderError,
  ): Promise<void> {
    const error = event.failure ? (storedError(providerError(event.failure)) ?? undefined) : undefined;
    if (event.kind === "payment" && event.status) {
      await this.applyPaymentWebhook(trx, accountId, event, event.status as ProviderPaymentStatus, error);
    } else if (event.kind === "refund" && event.status && event.providerRefundId) {
      const refund = (await trx("refunds")
        .where({ provider_account_id: accountId, provider_refund_id: event.providerRefundId })
        .first()) as RefundRow | undefined;
      if (refund) await this.settleRefund(refund.id, { status: event.status as RefundState, ...(error ? { error } : {}) }, trx);
    }
  }

  // A condition true when applyWebhook would change nothing, for the
  // inbound route to store such an event in one statement; undefined when
  // only applying tells. It is applyPaymentWebhook's choice in SQL, and never
  // true where that would change something (an attempt it would settle, a
  // payment whose status it would change).
  webhookChangesNothing(accountId: string, event: PaymentWebhookEvent): Sql | undefined {
    if (event.kind === "refund" && event.status && event.providerRefundId) return undefined;
    if (event.kind !== "payment" || !event.status || (!event.attemptId && !event.providerPaymentId)) return { sql: "true", bindings: [] };
    const states = statesFromProvider(event.status as ProviderPaymentStatus);
    // The attempt is looked up by our id alone when the event has it, and
    // only then checked as the account's: the check runs prepared, and with
    // the account beside the id a plan made while the attempts were few (a
    // fresh database) takes the index that leads with the account and reads
    // all of its attempts for every event.
    const attempt = event.attemptId
      ? { sql: "id = ?", bindings: [event.attemptId] }
      : { sql: "provider_account_id = ? and provider_payment_id = ?", bindings: [accountId, event.providerPaymentId!] };
    const unknown: AttemptState = "unknown";
    const pending: AttemptState = "pending";
    return {
      sql:
        `not exists (with a as materialized (select payment_id, provider_account_id, status, provider_payment_id from payment_attempts where ${attempt.sql}) ` +
        `select 1 from a join payments p on p.id = a.payment_id where a.provider_account_id = ? ` +
        `and (a.status = ? or (a.status = ? and a.provider_payment_id <> '') ` +
        `or (p.provider_account_id = ? and p.provider_payment_id = coalesce(nullif(?, ''), a.provider_payment_id) and p.status <> ?)))`,
      bindings: [...attempt.bindings, accountId, unknown, pending, accountId, event.providerPaymentId ?? "", states.payment],
    };
  }

  private async applyPaymentWebhook(
    trx: Knex.Transaction,
    accountId: string,
    event: PaymentWebhookEvent,
    status: ProviderPaymentStatus,
    error: string | undefined,
  ): Promise<void> {
    if (!event.attemptId && !event.providerPaymentId) return;
    // The attempt with what this needs of its payment, in one statement.
    const attempt = (await trx("payment_attempts as a")
      .join("payments as p", "p.id", "a.payment_id")
      .where(event.attemptId ? { "a.id": event.attemptId } : { "a.provider_payment_id": event.providerPaymentId })
      .andWhere({ "a.provider_account_id": accountId })
      .first("a.*", {
        payment_amount: "p.amount",
        payment_status: "p.status",
        payment_provider_account_id: "p.provider_account_id",
        payment_provider_payment_id: "p.provider_payment_id",
      })) as (AttemptRow & WebhookPaymentColumns) | undefined;
    if (!attempt) return;
    const payment = {
      id: attempt.payment_id,
      amount: attempt.payment_amount,
      status: attempt.payment_status,
      provider_account_id: attempt.payment_provider_account_id,
      provider_payment_id: attempt.payment_provider_payment_id,
    };
    const states = statesFromProvider(status);
    const patch: PaymentPatch = {
      amount_capturable: states.payment === "requires_capture" ? BigInt(payment.amount) : 0n,
      ...(event.amountCaptured !== undefined ? { amount_captured: event.amountCaptured } : {}),
      ...(error ? { error } : {}),
    };
    const providerPaymentId = event.providerPaymentId || attempt.provider_payment_id;
    // An unknown attempt, or one the provider said it was still processing,
    // is resolved by the webhook. A pending attempt without a provider id has
    // its call in flight, whose answer decides (failover included).
    if (attempt.status === "unknown" || (attempt.status === "pending" && attempt.provider_payment_id !== "")) {
      await this.settleAttempt(
        attempt.id,
        [attempt.status],
        { status: states.attempt, error: error ?? null, provider_payment_id: providerPaymentId },
        { status: states.payment, patch: { ...patch, provider_payment_id: providerPaymentId } },
        trx,
      );
    } else if (
      payment.provider_account_id === accountId &&
      payment.provider_payment_id === providerPaymentId &&
      payment.status !== states.payment
    ) {
      // Only news counts: the provider also reports states we already recorded.
      await this.changePayment(payment.id, { status: states.payment, patch }, trx);
    }
  }

  // `attempts`, when given, are all of the payment's attempts.
  private async paymentEvent(trx: Knex.Transaction, type: EventType, row: PaymentRow, attempts?: readonly AttemptRow[]) {
    await appendEvent(trx, this.paymentEventInit(type, row, attempts ?? (await this.attempts.of(row.id, trx))));
  }

  // The event and its outbox row, for a statement that writes it with others.
  private paymentEventRow(type: EventType, row: PaymentRow, attempts: readonly AttemptRow[]) {
    return outboxEvent(this.paymentEventInit(type, row, attempts));
  }

  private paymentEventInit(type: EventType, row: PaymentRow, attempts: readonly AttemptRow[]) {
    return {
      type,
      tenantId: row.tenant_id,
      environment: environmentFromName(row.environment),
      data: { case: "payment" as const, value: { payment: toPayment(row, attempts) } },
    };
  }

  private async refundEvent(trx: Knex.Transaction, type: EventType, refund: RefundRow, payment: PaymentRow) {
    await appendEvent(trx, {
      type,
      tenantId: refund.tenant_id,
      environment: environmentFromName(refund.environment),
      data: { case: "refund", value: { refund: toRefund(refund), payment: await this.toPayment(payment, trx) } },
    });
  }
}

// Erases a person's contact data from the tenant's payments: the customer's
// email, name and phone, and their traces in stored provider webhooks.
// Amounts, currencies, statuses, ids, fees and timestamps stay. Returns the
// payments redacted per environment and the stored forms of the contact
// found (and the names beside them), for the caller to erase from what
// other rooms keep.
export async function erasePaymentContact(
  trx: Knex,
  tenantId: string,
  contact: Contact,
): Promise<{ payments: Record<EnvironmentName, number>; found: string[]; names: string[] }> {
  const rows = (await trx("payments")
    .where({ tenant_id: tenantId })
    .where((q) => {
      if (contact.email) q.orWhereRaw("lower(customer->>'email') = ?", [contact.email.toLowerCase()]);
      if (contact.phone) q.orWhereRaw("customer->>'phone' = ?", [contact.phone]);
    })
    .select("id", "environment", "customer")
    .forUpdate()) as Pick<PaymentRow, "id" | "environment" | "customer">[];
  const payments: Record<EnvironmentName, number> = { test: 0, live: 0 };
  const found = new Set<string>();
  const names = new Set<string>();
  for (const row of rows) {
    const { email, name, phone, ...kept } = jsonColumn(row.customer);
    for (const value of [email, phone]) if (value) found.add(value);
    if (name) names.add(name);
    await trx("payments").where({ id: row.id }).update({ customer: JSON.stringify(kept), updated_at: new Date() });
    payments[row.environment]++;
  }
  const needles = [...found, contact.email ?? "", contact.phone ?? ""];
  await maskInInboundEvents(trx, tenantId, "payments", needles, [...names]);
  return { payments, found: [...found], names: [...names] };
}
