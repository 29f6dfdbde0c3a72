import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { ProviderErrorSchema, type ProviderError } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import type { Payment, Refund } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { apiError, copyWith, failedPrecondition, invalidArgument, jsonColumn, noIdempotencyClaim, notFound, type IdempotencyClaim, type Knex, type Logger, type PageRequest } from "@onerouter/core";
import { exhaustedMessage, noProviderAvailable, providerErrorFromColumn, providerErrorOf, RoutedCalls, storedProviderError as storedError, type CallOutcome, type Candidate, type CategoryConnectors, type CircuitBreakers, type FeeAlternatives, type ProviderAccountStore, type ProviderAccountWithCredentials, type ProviderDescriptor, type RouteStep, type InboundEventHooks, type RoutingProfileStore, type RoutingRequest } from "@onerouter/routing";
import type { ConnectorContext, PaymentConnector, PaymentResult, PaymentWebhookEvent } from "./connectors/connector";
import { toPayment, toRefund } from "./mapping";
import { paymentStateInvalid, statesFromProvider, type AttemptState } from "./state";
import type { AttemptRow, PaymentRow, RefundRow } from "./rows";
import { PaymentStore, type FirstAttempt, type NewPayment, type PaymentFilter, type PaymentPatch, type Scope, type Settled } from "./store";

// The payment engine: routes a payment over the tenant's provider accounts,
// records one attempt per provider call, and fails over only when the
// provider provably did not take the money. An ambiguous call (the provider
// may have taken it) stops the routing until that provider says what became
// of it; only "no record of it" lets the next provider be tried.

export interface PaymentEngineOptions {
  knex: Knex;
  accounts: ProviderAccountStore;
  profiles: RoutingProfileStore;
  breakers: CircuitBreakers;
  // The payment connectors as registered, with their fees and settings.
  connectors: CategoryConnectors<PaymentConnector>;
  logger?: Logger;
}

type PaymentOutcome = CallOutcome<PaymentResult>;

// A payment as one request routes it.
interface PaymentRun {
  // Undefined until the first attempt starts, which `create` writes
  // together with it; then as this request last wrote it, which its
  // settlements take for the payment's current row while `attempts` is known.
  payment: PaymentRow | undefined;
  create?: (first: FirstAttempt | undefined) => Promise<{ payment: PaymentRow; attempt?: AttemptRow }>;
  tokens: PaymentTokens;
  // Every attempt of the payment, when this request wrote them all.
  attempts: AttemptRow[] | undefined;
  claim: IdempotencyClaim<Payment>;
  // The payment as the settlement that ended the routing left it.
  answer?: Payment;
}

// What the routing does next after an attempt is recorded: besides going on
// or stopping, the outcome may still be unknown, or another process may
// have recorded it first and carry on ("lost").
type Step = RouteStep | { kind: "unknown" } | { kind: "lost" };

const category = "payments";
const resolverBatch = 50;

export class PaymentEngine {
  private readonly store: PaymentStore;
  private readonly calls: RoutedCalls<PaymentConnector>;
  private readonly connectors: CategoryConnectors<PaymentConnector>;
  // A PENDING attempt untouched this long has no live call behind it.
  private readonly staleAfterMs: number;

  constructor(private readonly options: PaymentEngineOptions) {
    this.store = new PaymentStore(options.knex);
    this.calls = new RoutedCalls(options);
    this.connectors = options.connectors;
    this.staleAfterMs = 2 * options.connectors.timeoutMs + 5000;
  }

  // What each payment provider needs and how to check an account.
  providerDescriptors(): ProviderDescriptor[] {
    return this.connectors.descriptors();
  }

  // Under an Idempotency-Key whose earlier request died mid-way, the
  // payment it made is carried on instead: never a second one per key.
  // Routing is decided first, so that the payment is written with its
  // first attempt and payment.created in one transaction before the provider
  // call, and settled with its answer in one after it.
  async createPayment(scope: Scope, input: NewPayment, claim: IdempotencyClaim<Payment> = noIdempotencyClaim): Promise<Payment> {
    if (claim.resumeId !== undefined) return this.resumePayment(scope, claim.resumeId);
    const request = { amount: input.amount, currency: input.currency, country: input.customer.country ?? "" };
    const { candidates, profile, alternatives } = await this.candidates(scope, request, new Set());
    const run: PaymentRun = {
      payment: undefined,
      create: (first) => this.store.createPayment(scope, input, claim, first),
      tokens: { payment_method_token: input.paymentMethodToken, payment_method_provider_tokens: input.paymentMethodProviderTokens },
      attempts: [],
      claim,
    };
    await this.tryCandidates(run, candidates, alternatives, profile?.failoverOnDecline ?? false);
    return run.answer ?? this.paymentMessage(run.payment!.id);
  }

  // Carries a payment on from wherever a process that died left it: an
  // attempt in flight is sent again under its attempt id (the provider's
  // idempotency key), an unknown one is looked up with its provider, and the
  // routing goes on only when the provider provably did not take the money.
  private async resumePayment(scope: Scope, id: string): Promise<Payment> {
    const payment = await this.requirePayment(scope, id);
    if (payment.status === "processing") {
      const attempts = await this.store.attempts.of(id);
      const open = attempts.find((a) => a.status === "pending" || a.status === "unknown");
      if (open?.status === "pending") await this.resendAttempt(payment, open);
      else if (open) await this.resolveAttempt(open);
      else await this.routeOn(payment, attempts, lastDecline(attempts));
    }
    return this.paymentMessage(id);
  }

  // Resolves the payment's unknown attempts first, so a reader sees the outcome.
  async getPayment(scope: Scope, id: string): Promise<Payment> {
    const payment = await this.requirePayment(scope, id);
    if (payment.status === "processing") {
      const attempts = await this.store.attempts.of(id);
      for (const attempt of attempts) {
        if (attempt.status === "unknown" || (attempt.status === "pending" && this.isStale(attempt))) {
          await this.resolveAttempt(attempt);
        }
      }
    }
    return this.paymentMessage(id);
  }

  listPayments(scope: Scope, filter: PaymentFilter, page: PageRequest) {
    return this.store.listPayments(scope, filter, page);
  }

  async capturePayment(scope: Scope, id: string, amount: bigint, claim: IdempotencyClaim = noIdempotencyClaim): Promise<Payment> {
    const payment = await this.requirePayment(scope, id);
    // This key's capture was recorded before its process could answer.
    if (claim.resumeId === id && payment.status === "succeeded") return this.paymentMessage(id);
    if (payment.status !== "requires_capture") {
      throw paymentStateInvalid(id, payment.status, "CapturePayment", ["requires_capture"]);
    }
    const capturable = BigInt(payment.amount_capturable);
    const toCapture = amount === 0n ? capturable : amount;
    if (toCapture > capturable) {
      throw invalidArgument("amount", `must be at most the capturable amount ${capturable}`, "CAPTURE_AMOUNT_TOO_LARGE");
    }
    // Bound before the call, so a retry after a crash knows it may have happened.
    await claim.bind(this.options.knex, id);
    const result = await this.followUp(payment, "CapturePayment", "succeeded", (connector, ctx) =>
      connector.capturePayment(ctx, {
        providerPaymentId: payment.provider_payment_id,
        amount: toCapture,
        currency: payment.currency,
        // Stable, so a retried capture of the same amount is one capture at the provider.
        idempotencyKey: `${payment.id}_capture_${toCapture}`,
      }),
    );
    await this.applyResult(payment, result, toCapture);
    return this.paymentMessage(id);
  }

  async cancelPayment(scope: Scope, id: string, claim: IdempotencyClaim = noIdempotencyClaim): Promise<Payment> {
    const payment = await this.requirePayment(scope, id);
    if (claim.resumeId === id && payment.status === "canceled") return this.paymentMessage(id);
    if (payment.status !== "requires_capture" && payment.status !== "requires_action") {
      throw paymentStateInvalid(id, payment.status, "CancelPayment", ["requires_capture", "requires_action"]);
    }
    await claim.bind(this.options.knex, id);
    const result = await this.followUp(payment, "CancelPayment", "canceled", (connector, ctx) =>
      connector.cancelPayment(ctx, { providerPaymentId: payment.provider_payment_id, idempotencyKey: `${payment.id}_cancel` }),
    );
    await this.applyResult(payment, result, 0n);
    return this.paymentMessage(id);
  }

  // `amount` 0 refunds everything not refunded yet.
  async refundPayment(
    scope: Scope,
    paymentId: string,
    input: { amount: bigint; reason: string; metadata: Record<string, string> },
    claim: IdempotencyClaim = noIdempotencyClaim,
  ): Promise<{ refund: Refund; payment: Payment }> {
    if (claim.resumeId !== undefined) return this.resumeRefund(scope, claim.resumeId);
    const reserved = await this.store.reserveRefund(
      scope,
      paymentId,
      (payment) => {
        if (payment.status !== "succeeded") throw paymentStateInvalid(paymentId, payment.status, "RefundPayment", ["succeeded"]);
        const refundable = BigInt(payment.amount_captured) - BigInt(payment.amount_refunded);
        if (refundable <= 0n) {
          throw failedPrecondition("PAYMENT_FULLY_REFUNDED", `payment ${paymentId} has nothing left to refund`, { payment_id: paymentId });
        }
        const amount = input.amount === 0n ? refundable : input.amount;
        if (amount > refundable) {
          throw invalidArgument("amount", `must be at most the refundable amount ${refundable}`, "REFUND_AMOUNT_TOO_LARGE");
        }
        return amount;
      },
      input,
      claim.bind,
    );
    if (!reserved) throw notFound("payment", paymentId);
    await this.sendRefund(reserved.refund);
    return this.refundAnswer(scope, reserved.refund.id);
  }

  // A refund whose request died before the provider answered is sent again
  // under its id, the provider's idempotency key for it.
  private async resumeRefund(scope: Scope, id: string): Promise<{ refund: Refund; payment: Payment }> {
    const refund = await this.store.findRefund(scope, id);
    if (!refund) throw notFound("refund", id);
    if (refund.status === "pending" && refund.provider_refund_id === "") await this.sendRefund(refund);
    return this.refundAnswer(scope, id);
  }

  private async refundAnswer(scope: Scope, id: string): Promise<{ refund: Refund; payment: Payment }> {
    const refund = (await this.store.findRefund(scope, id))!;
    return { refund: toRefund(refund), payment: await this.paymentMessage(refund.payment_id) };
  }

  async getRefund(scope: Scope, id: string): Promise<Refund> {
    const refund = await this.store.findRefund(scope, id);
    if (!refund) throw notFound("refund", id);
    return toRefund(refund);
  }

  listRefunds(scope: Scope, paymentId: string, page: PageRequest) {
    return this.store.listRefunds(scope, paymentId, page);
  }

  // One round of the background resolver: unknown attempts, attempts left
  // pending by a process that died, refunds whose provider call never answered.
  async resolvePending(): Promise<void> {
    const now = Date.now();
    const attempts = await this.store.unresolvedAttempts(
      new Date(now - this.connectors.timeoutMs),
      new Date(now - this.staleAfterMs),
      resolverBatch,
    );
    for (const attempt of attempts) {
      await this.resolveAttempt(attempt).catch((err: unknown) =>
        this.options.logger?.error({ err, attempt: attempt.id }, "resolving a payment attempt failed"),
      );
    }
    for (const refund of await this.store.unsentRefunds(new Date(now - this.staleAfterMs), resolverBatch)) {
      await this.sendRefund(refund).catch((err: unknown) =>
        this.options.logger?.error({ err, refund: refund.id }, "resending a refund failed"),
      );
    }
  }

  // Runs resolvePending every `intervalMs` until stopped; stop waits for a running round.
  startResolver(intervalMs = 30_000): { stop(): Promise<void> } {
    let running: Promise<void> | undefined;
    const timer = setInterval(() => {
      running ??= this.resolvePending().finally(() => (running = undefined));
    }, intervalMs);
    timer.unref();
    return {
      async stop() {
        clearInterval(timer);
        await running;
      },
    };
  }

  // The inbound route's hooks for payment providers' webhooks: one event per
  // webhook, moving the payment or refund it names.
  inboundEvents(): InboundEventHooks<PaymentWebhookEvent> {
    return {
      category,
      providers: this.providerDescriptors().map((d) => d.name),
      knex: this.options.knex,
      accounts: this.options.accounts,
      parse: async (account, input) => [await this.connectors.require(account.provider).parseWebhook(this.connectors.context(account), input)],
      apply: (trx, account, event) => this.store.applyWebhook(trx, account.id, event, (failure) => providerErrorOf(account.provider, failure)),
      nothingToApply: (account, event) => this.store.webhookChangesNothing(account.id, event),
    };
  }

  private async tryCandidates(
    run: PaymentRun,
    candidates: readonly Candidate<ProviderAccountWithCredentials>[],
    alternatives: FeeAlternatives,
    failoverOnDecline: boolean,
    earlierDecline?: ProviderError,
  ): Promise<void> {
    // A payment tokenized for named providers only cannot go elsewhere, and
    // a provider that needs a token of its own is passed over without one.
    const lacksToken = (account: ProviderAccountWithCredentials) =>
      paymentMethodToken(run.tokens, account.provider) === undefined &&
      (hasProviderTokensOnly(run.tokens) || this.connectors.require(account.provider).needsPaymentMethodToken === true);
    await this.calls.route<AttemptRow, PaymentResult>(candidates, {
      skips: lacksToken,
      start: async (account, estimatedFee, reason) => {
        if (!run.payment) {
          const created = await run.create!({ account, reason, estimatedFee, alternatives });
          run.payment = created.payment;
          run.attempts = [created.attempt!];
          return created.attempt;
        }
        // Later attempts are read back where needed: another process may have added one.
        run.attempts = undefined;
        return this.store.startAttempt(run.payment, copyWith(account, { routingReason: reason }), estimatedFee, alternatives);
      },
      call: (account, attempt) => this.callCreate(account, attempt, run.payment!),
      settle: async (account, attempt, outcome, latencyMs) => {
        const payment = run.payment!;
        let step = await this.settle(payment, attempt, ["pending"], outcome, failoverOnDecline, latencyMs, run);
        if (step.kind === "unknown") {
          // Ask the same provider what became of it before anything else happens.
          const synced = await this.sync(account, attempt.id, payment);
          step = await this.settle(payment, attempt, ["unknown"], synced, failoverOnDecline, undefined, run);
        }
        return step.kind === "next" ? step : { kind: "done" };
      },
      exhausted: async (routed) => {
        run.payment ??= (await run.create!(undefined)).payment;
        const error =
          routed.decline ??
          earlierDecline ??
          (routed.tried === 0 ? paymentMethodRequired(candidates.map((c) => c.account).filter(lacksToken)) : undefined) ??
          noProviderAvailable(routed.candidates === 0 ? "no enabled provider account can take this payment" : exhaustedMessage("payment", routed));
        await this.store.changePayment(run.payment.id, { status: "failed", patch: { error: storedError(error) } });
      },
    });
  }

  private callCreate(account: ProviderAccountWithCredentials, attempt: AttemptRow, payment: PaymentRow): Promise<PaymentOutcome> {
    return this.calls.call(account, (connector, ctx) =>
      connector.createPayment(ctx, {
        attemptId: attempt.id,
        paymentId: payment.id,
        amount: BigInt(payment.amount),
        currency: payment.currency,
        captureMethod: payment.capture_method,
        paymentMethodToken: paymentMethodToken(payment, account.provider),
        customer: jsonColumn(payment.customer),
        description: payment.description || undefined,
        metadata: jsonColumn(payment.metadata),
        returnUrl: payment.return_url || undefined,
      }),
    );
  }

  // What the provider knows of the attempt: an answer, "no record" (never
  // taken), or still unknown when it cannot be asked.
  private async sync(account: ProviderAccountWithCredentials, attemptId: string, payment: PaymentRow): Promise<PaymentOutcome> {
    const attempt = await this.store.attempts.find(attemptId);
    const looked = await this.calls.call(account, (connector, ctx) =>
      connector.syncPayment(ctx, {
        attemptId,
        providerPaymentId: attempt?.provider_payment_id || undefined,
        amount: BigInt(payment.amount),
        currency: payment.currency,
      }),
    );
    if (looked.kind !== "answered") return { kind: "unknown", error: looked.error };
    if (looked.result) return { kind: "answered", result: looked.result };
    // Some providers' lookups lag behind their writes: until the lag has
    // passed, "not found" is no proof that the money was not taken.
    const settleMs = this.connectors.require(account.provider).syncSettleMs ?? 0;
    if (attempt && Date.now() - new Date(attempt.created_at).getTime() < settleMs) {
      return {
        kind: "unknown",
        error: create(ProviderErrorSchema, {
          reason: "PROVIDER_LOOKUP_PENDING",
          message: `the provider's lookup can lag up to ${settleMs} ms behind; asking again later`,
          provider: account.provider,
        }),
      };
    }
    return {
      kind: "not_taken",
      error: create(ProviderErrorSchema, {
        reason: "PROVIDER_NO_RECORD",
        message: "the call's outcome was unknown and the provider has no record of it, so it never took the payment",
        provider: account.provider,
      }),
    };
  }

  // Records an attempt's outcome (if it is still in one of `from`) with
  // what it does to the payment.
  private async settle(
    payment: PaymentRow,
    attempt: AttemptRow,
    from: readonly AttemptState[],
    outcome: PaymentOutcome,
    failoverOnDecline: boolean,
    latencyMs?: number,
    run?: PaymentRun,
  ): Promise<Step> {
    const latency = latencyMs === undefined ? {} : { latency_ms: latencyMs };
    // What the request knows when it wrote every attempt of the payment; a
    // settlement that ends its routing stores its answer too.
    const known = run?.attempts && { attempts: run.attempts, payment: run.payment };
    const final = known && copyWith(known, { claim: run!.claim });
    // The request now knows the payment as settled, and answers with it when it ended there.
    const recordedIn = (settled: Settled | undefined) => {
      if (settled && run?.attempts) {
        run.payment = settled.payment;
        run.attempts = settled.attempts ?? run.attempts;
        run.answer = settled.answer ?? run.answer;
      }
      return settled;
    };
    switch (outcome.kind) {
      case "answered": {
        const { result } = outcome;
        const states = statesFromProvider(result.status);
        const error = result.failure ? providerErrorOf(attempt.provider, result.failure) : undefined;
        const patch = copyWith(latency, { status: states.attempt, error: storedError(error), provider_payment_id: result.providerPaymentId });
        if (states.attempt === "declined" && failoverOnDecline) {
          const recorded = recordedIn(await this.store.settleAttempt(attempt.id, from, patch, {}, undefined, known));
          return recorded ? { kind: "next", decline: error } : { kind: "lost" };
        }
        const change = { status: states.payment, patch: paymentPatch(result, error, BigInt(payment.amount), BigInt(payment.amount)) };
        const recorded = recordedIn(await this.store.settleAttempt(attempt.id, from, patch, change, undefined, final));
        return recorded ? { kind: "done" } : { kind: "lost" };
      }
      case "not_taken": {
        const recorded = recordedIn(await this.store.settleAttempt(attempt.id, from, copyWith(latency, { status: "failed", error: storedError(outcome.error) }), {}, undefined, known));
        return recorded ? { kind: "next" } : { kind: "lost" };
      }
      case "rejected": {
        const error = storedError(outcome.error);
        const recorded = recordedIn(await this.store.settleAttempt(attempt.id, from, copyWith(latency, { status: "failed", error }), { status: "failed", patch: { error } }, undefined, final));
        return recorded ? { kind: "done" } : { kind: "lost" };
      }
      case "unknown": {
        if (!from.includes("pending")) {
          await this.store.attempts.touch(attempt.id);
          return { kind: "unknown" };
        }
        const recorded = recordedIn(await this.store.settleAttempt(attempt.id, from, copyWith(latency, { status: "unknown", error: storedError(outcome.error) }), {}, undefined, known));
        return recorded ? { kind: "unknown" } : { kind: "lost" };
      }
    }
  }

  // Asks the attempt's provider what happened and carries on from there:
  // when the provider never got it, with the accounts not tried yet.
  private async resolveAttempt(attempt: AttemptRow): Promise<void> {
    const scope = { tenantId: attempt.tenant_id, environment: attempt.environment };
    const [payment, account, profile] = await Promise.all([
      this.store.findPayment(scope, attempt.payment_id),
      this.options.accounts.getWithCredentials(scope, attempt.provider_account_id),
      this.options.profiles.get({ ...scope, category }),
    ]);
    // Without its account the provider cannot be asked; the attempt stays unknown.
    if (!payment || !account) return void (await this.store.attempts.touch(attempt.id));
    const failoverOnDecline = profile?.failoverOnDecline ?? false;
    const outcome = await this.sync(account, attempt.id, payment);
    await this.settleAndRouteOn(payment, attempt, [attempt.status], outcome, failoverOnDecline);
  }

  // Sends a PENDING attempt left by a process that died again, exactly as
  // it was: the provider answers for the first call or takes this one, a
  // single charge either way. Without an answer, the provider is asked.
  private async resendAttempt(payment: PaymentRow, attempt: AttemptRow): Promise<void> {
    const scope = { tenantId: attempt.tenant_id, environment: attempt.environment };
    const [account, profile] = await Promise.all([
      this.options.accounts.getWithCredentials(scope, attempt.provider_account_id),
      this.options.profiles.get({ ...scope, category }),
    ]);
    // Fresh again, so the background resolver leaves it to this call.
    await this.store.attempts.touch(attempt.id);
    if (!account) return;
    const failoverOnDecline = profile?.failoverOnDecline ?? false;
    const outcome = await this.callCreate(account, attempt, payment);
    if (outcome.kind === "answered") return this.settleAndRouteOn(payment, attempt, ["pending"], outcome, failoverOnDecline);
    // A failure of this call says nothing of the first one's.
    const marked = await this.store.settleAttempt(attempt.id, ["pending"], { status: "unknown", error: storedError(outcome.error) }, {});
    if (!marked) return;
    const synced = await this.sync(account, attempt.id, payment);
    await this.settleAndRouteOn(payment, attempt, ["unknown"], synced, failoverOnDecline);
  }

  // Records the attempt's outcome; when its provider provably did not take
  // the money, routes on over the accounts not tried yet.
  private async settleAndRouteOn(
    payment: PaymentRow,
    attempt: AttemptRow,
    from: readonly AttemptState[],
    outcome: PaymentOutcome,
    failoverOnDecline: boolean,
  ): Promise<void> {
    const step = await this.settle(payment, attempt, from, outcome, failoverOnDecline);
    if (step.kind !== "next") return;
    const attempted = await this.store.attempts.of(payment.id);
    await this.routeOn(payment, attempted, step.decline, failoverOnDecline);
  }

  private async routeOn(
    payment: PaymentRow,
    attempted: readonly AttemptRow[],
    decline: ProviderError | undefined,
    failoverOnDecline?: boolean,
  ): Promise<void> {
    const scope = { tenantId: payment.tenant_id, environment: payment.environment };
    const request = { amount: BigInt(payment.amount), currency: payment.currency, country: jsonColumn(payment.customer).country ?? "" };
    const { candidates, profile, alternatives } = await this.candidates(scope, request, new Set(attempted.map((a) => a.provider_account_id)));
    const run: PaymentRun = { payment, tokens: payment, attempts: undefined, claim: noIdempotencyClaim };
    await this.tryCandidates(run, candidates, alternatives, failoverOnDecline ?? profile?.failoverOnDecline ?? false, decline);
  }

  private candidates(scope: Scope, request: RoutingRequest, exclude: ReadonlySet<string>) {
    return this.calls.candidates({
      scope,
      accepts: (connector) => connector.currencies.length === 0 || connector.currencies.includes(request.currency),
      request,
      exclude,
      successRates: (accountIds, since) => this.store.attempts.outcomes(scope, accountIds, since),
    });
  }

  // A call about a payment the provider already holds (capture, cancel):
  // it cannot go elsewhere, so failures become API errors. An ambiguous one
  // is checked with the provider first, as the change may have happened.
  private async followUp(
    payment: PaymentRow,
    operation: string,
    expected: PaymentResult["status"],
    call: (connector: PaymentConnector, ctx: ConnectorContext) => Promise<PaymentResult>,
  ): Promise<PaymentResult> {
    const account = await this.paymentAccount(payment);
    const metadata = { payment_id: payment.id, provider: account.provider, provider_account_id: account.id };
    const outcome = await this.calls.call(account, call);
    switch (outcome.kind) {
      case "answered":
        return outcome.result;
      case "unknown": {
        const synced = await this.connectors
          .require(account.provider)
          .syncPayment(this.connectors.context(account), {
            attemptId: "",
            providerPaymentId: payment.provider_payment_id,
            amount: BigInt(payment.amount),
            currency: payment.currency,
          })
          .catch(() => null);
        if (synced?.status === expected) return synced;
        throw apiError(
          Code.Unavailable,
          outcome.error.reason,
          `${operation}: the provider's answer was lost (${outcome.error.message}); retrying is safe, the provider sees the same idempotency key`,
          metadata,
        );
      }
      case "not_taken":
        throw apiError(
          outcome.error.reason === "PROVIDER_AUTHENTICATION_FAILED" ? Code.FailedPrecondition : Code.Unavailable,
          outcome.error.reason,
          `${operation}: ${outcome.error.message}`,
          metadata,
        );
      case "rejected":
        throw apiError(Code.FailedPrecondition, outcome.error.reason, `${operation}: the provider refused: ${outcome.error.message}`, {
          ...metadata,
          provider_code: outcome.error.providerCode,
        });
    }
  }

  private async applyResult(payment: PaymentRow, result: PaymentResult, captured: bigint): Promise<void> {
    const error = result.failure ? providerErrorOf(payment.provider, result.failure) : undefined;
    await this.store.changePayment(payment.id, {
      status: statesFromProvider(result.status).payment,
      patch: paymentPatch(result, error, BigInt(payment.amount), captured),
    });
  }

  // Sends a PENDING refund to the provider, under the refund id as the
  // provider's idempotency key, so sending it again is safe.
  private async sendRefund(refund: RefundRow): Promise<void> {
    const scope = { tenantId: refund.tenant_id, environment: refund.environment };
    const [account, payment] = await Promise.all([
      this.options.accounts.getWithCredentials(scope, refund.provider_account_id),
      this.store.findPayment(scope, refund.payment_id),
    ]);
    if (!account || !payment) {
      const error = create(ProviderErrorSchema, {
        reason: "PROVIDER_ACCOUNT_UNAVAILABLE",
        message: `the provider account ${refund.provider_account_id} that took the payment no longer exists`,
        provider: refund.provider,
      });
      await this.store.settleRefund(refund.id, { status: "failed", error: storedError(error) });
      return;
    }
    const outcome = await this.calls.call(account, (connector, ctx) =>
      connector.refundPayment(ctx, {
        providerPaymentId: payment.provider_payment_id,
        amount: BigInt(refund.amount),
        currency: refund.currency,
        refundId: refund.id,
        idempotencyKey: refund.id,
        reason: refund.reason || undefined,
      }),
    );
    if (outcome.kind === "answered") {
      const { result } = outcome;
      const error = result.failure ? providerErrorOf(account.provider, result.failure) : undefined;
      await this.store.settleRefund(refund.id, {
        status: result.status,
        provider_refund_id: result.providerRefundId,
        error: storedError(error),
      });
      return;
    }
    // Left pending: the resolver sends it again under the same idempotency key.
    if (outcome.kind === "unknown") return void (await this.store.touchRefund(refund.id));
    await this.store.settleRefund(refund.id, { status: "failed", error: storedError(outcome.error) });
  }

  private async paymentAccount(payment: PaymentRow): Promise<ProviderAccountWithCredentials> {
    const account = await this.options.accounts.getWithCredentials(
      { tenantId: payment.tenant_id, environment: payment.environment },
      payment.provider_account_id,
    );
    if (!account) {
      throw failedPrecondition(
        "PROVIDER_ACCOUNT_UNAVAILABLE",
        `the provider account ${payment.provider_account_id} that holds payment ${payment.id} no longer exists`,
        { payment_id: payment.id, provider_account_id: payment.provider_account_id },
      );
    }
    return account;
  }

  private async requirePayment(scope: Scope, id: string): Promise<PaymentRow> {
    const payment = await this.store.findPayment(scope, id);
    if (!payment) throw notFound("payment", id);
    return payment;
  }

  // For a payment whose scope was checked already.
  private async paymentMessage(id: string): Promise<Payment> {
    return this.store.toPayment(await this.store.paymentById(id));
  }

  private isStale(attempt: AttemptRow): boolean {
    return Date.now() - new Date(attempt.updated_at).getTime() > this.staleAfterMs;
  }
}

// The payment columns a provider's answer sets. Where the provider does not
// say, an authorization holds the whole `amount` and a success captured `captured`.
function paymentPatch(result: PaymentResult, error: ProviderError | undefined, amount: bigint, captured: bigint): PaymentPatch {
  const { payment } = statesFromProvider(result.status);
  return {
    provider_payment_id: result.providerPaymentId,
    redirect_url: result.redirectUrl ?? "",
    amount_capturable: result.amountCapturable ?? (payment === "requires_capture" ? amount : 0n),
    amount_captured: result.amountCaptured ?? (payment === "succeeded" ? captured : 0n),
    error: storedError(error),
  };
}

// The error of the payment's latest declined attempt, which a routing that
// runs out of accounts reports.
function lastDecline(attempts: readonly AttemptRow[]): ProviderError | undefined {
  const declined = attempts.filter((a) => a.status === "declined");
  return providerErrorFromColumn(declined[declined.length - 1]?.error ?? null);
}

type PaymentTokens = Pick<PaymentRow, "payment_method_token" | "payment_method_provider_tokens">;

function paymentMethodToken(payment: PaymentTokens, provider: string): string | undefined {
  return jsonColumn(payment.payment_method_provider_tokens)[provider] || payment.payment_method_token || undefined;
}

// Why a payment no provider was called for failed, when its providers were
// passed over for lack of a token.
function paymentMethodRequired(passedOver: readonly ProviderAccountWithCredentials[]): ProviderError | undefined {
  if (passedOver.length === 0) return undefined;
  const providers = [...new Set(passedOver.map((a) => a.provider))];
  return create(ProviderErrorSchema, {
    reason: "PAYMENT_METHOD_REQUIRED",
    message: `the provider accounts this payment can go to need a payment method token: give paymentMethod.providerTokens for ${providers.join(", ")}`,
    provider: providers[0]!,
  });
}

function hasProviderTokensOnly(payment: PaymentTokens): boolean {
  return payment.payment_method_token === "" && Object.keys(jsonColumn(payment.payment_method_provider_tokens)).length > 0;
}
