import { create } from "@bufbuild/protobuf";
import { ProviderErrorSchema } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import type { EmailAddress as EmailAddressMessage, EmailContent, Message } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { applicableFee, comparedFees, exhaustedMessage, inboundWebhookPath, noProviderAvailable, providerErrorOf, RoutedCalls, storedProviderError, type CallOutcome, type Candidate, type CategoryConnectors, type CircuitBreakers, type ConnectorContext, type FeeAlternatives, type ProviderAccountStore, type ProviderAccountWithCredentials, type ProviderDescriptor, type PublishedPrices, type RoutingProfileStore, type InboundEventHooks } from "@onerouter/routing";
import { copyWith, noIdempotencyClaim, notFound, type IdempotencyClaim, type Knex, type Logger, type PageRequest } from "@onerouter/core";
import { callbackAttemptParam, type EmailAddress, type MessageStatusEvent, type MessagingConnector, type SendEmailInput, type SendResult } from "./connectors/connector";
import { messageContent } from "./mapping";
import { stateFromProvider } from "./state";
import type { AttemptRow, MessageFilter, MessageRow } from "./rows";
import { MessageStore, type Scope } from "./store";
import type { MessageContent, NewMessage } from "./validation";

// The messaging engine: routes a message over the tenant's provider accounts
// for its channel, records one attempt per provider call, and fails over
// only when the provider provably did not take the message. An ambiguous
// call (the provider may have taken it) ends the routing: the message stays
// QUEUED until that provider's delivery callback says what became of it, as
// sending it elsewhere could deliver it twice. Callbacks move the message on
// to DELIVERED, UNDELIVERED or FAILED.

export interface MessagingEngineOptions {
  knex: Knex;
  accounts: ProviderAccountStore;
  profiles: RoutingProfileStore;
  breakers: CircuitBreakers;
  // The messaging connectors as registered, with their prices and settings.
  connectors: CategoryConnectors<MessagingConnector>;
  // Prices providers publish through their APIs, which CHEAPEST prefers to the registered ones.
  publishedPrices?: PublishedPrices;
  // In [0, 1): routing's random draws; Math.random unless given.
  random?: () => number;
  // Where providers reach this server for delivery callbacks; unknown until it listens.
  callbackBaseUrl: () => string | undefined;
  logger?: Logger;
}

type SendOutcome = CallOutcome<SendResult>;

// Prices are compared, and recorded, in the currency providers publish them in.
const priceCurrency = "USD";

export class MessagingEngine {
  private readonly store: MessageStore;
  private readonly calls: RoutedCalls<MessagingConnector>;
  private readonly connectors: CategoryConnectors<MessagingConnector>;

  constructor(private readonly options: MessagingEngineOptions) {
    this.store = new MessageStore(options.knex);
    this.calls = new RoutedCalls(options);
    this.connectors = options.connectors;
  }

  // What each messaging provider needs and how to check an account.
  providerDescriptors(): ProviderDescriptor[] {
    return this.connectors.descriptors();
  }

  // Under an Idempotency-Key whose earlier request died mid-way, the
  // message it made is carried on instead: never a second one per key.
  async sendMessage(scope: Scope, input: NewMessage, claim: IdempotencyClaim = noIdempotencyClaim): Promise<Message> {
    if (claim.resumeId !== undefined) return this.resumeMessage(scope, claim.resumeId);
    const message = await this.store.createMessage(scope, input, claim.bind);
    await this.tryCandidates(message, await this.candidates(message, new Set()));
    return this.message(message.id);
  }

  // A message the dead process may have handed to a provider is not sent
  // twice: an attempt left in flight is sent again under its attempt id
  // where the provider takes that as the same send, and otherwise becomes
  // unknown, for that provider's delivery report to settle. Only a message
  // no provider can have taken (no attempt, or every attempt provably
  // refused) is routed on.
  private async resumeMessage(scope: Scope, id: string): Promise<Message> {
    const message = await this.store.findMessage(scope, id);
    if (!message) throw notFound("message", id);
    if (message.status === "queued") {
      const attempts = await this.store.attempts.of(id);
      for (const attempt of attempts.filter((a) => a.status === "pending")) {
        if (this.connectors.get(attempt.provider)?.idempotentSend) await this.resendAttempt(message, attempt);
        else await this.markInterrupted(attempt);
      }
      if (attempts.every((a) => a.status === "failed")) {
        await this.tryCandidates(message, await this.candidates(message, new Set(attempts.map((a) => a.provider_account_id))));
      }
    }
    return this.message(id);
  }

  // Leaves an attempt cut short by a crash for its provider's delivery report to settle.
  private async markInterrupted(attempt: AttemptRow): Promise<void> {
    await this.store.settleAttempt(attempt.id, ["pending"], { status: "unknown", error: storedProviderError(interrupted(attempt.provider)) }, {});
  }

  // Sends an interrupted attempt again, exactly as it was, to a provider
  // that answers a repeated attempt id with the first send's outcome.
  private async resendAttempt(message: MessageRow, attempt: AttemptRow): Promise<void> {
    const account = await this.options.accounts.getWithCredentials(
      { tenantId: attempt.tenant_id, environment: attempt.environment },
      attempt.provider_account_id,
    );
    if (!account) return this.markInterrupted(attempt);
    const started = performance.now();
    const outcome = await this.callSend(account, attempt, message);
    const latency = Math.round(performance.now() - started);
    if (outcome.kind !== "not_taken") return this.settle(attempt, outcome, latency);
    // Refused now, which says nothing of the first call: its delivery report settles it.
    await this.store.settleAttempt(attempt.id, ["pending"], { status: "unknown", error: storedProviderError(outcome.error), latency_ms: latency }, {});
  }

  async getMessage(scope: Scope, id: string): Promise<Message> {
    const message = await this.store.findMessage(scope, id);
    if (!message) throw notFound("message", id);
    return this.store.toMessage(message);
  }

  listMessages(scope: Scope, filter: MessageFilter, page: PageRequest) {
    return this.store.listMessages(scope, filter, page);
  }

  // The inbound route's hooks for messaging providers' delivery callbacks:
  // a callback may carry a batch of status changes, each moving its attempt.
  inboundEvents(): InboundEventHooks<MessageStatusEvent> {
    return {
      category: this.connectors.category,
      providers: this.providerDescriptors().map((d) => d.name),
      knex: this.options.knex,
      accounts: this.options.accounts,
      parse: (account, input) => this.connectors.require(account.provider).parseCallback(this.connectors.context(account), input),
      apply: (trx, account, event) => this.store.applyCallback(trx, account.id, event, (failure) => providerErrorOf(account.provider, failure)),
      nothingToApply: (account, event) => this.store.callbackChangesNothing(account.id, event),
    };
  }

  private async tryCandidates(
    message: MessageRow,
    { candidates, alternatives }: { candidates: readonly Candidate<ProviderAccountWithCredentials>[]; alternatives: FeeAlternatives },
  ): Promise<void> {
    await this.calls.route<AttemptRow, SendResult>(candidates, {
      start: (account, estimatedFee, reason) =>
        this.store.startAttempt(
          message,
          copyWith(account, { routingReason: reason }),
          estimatedFee === undefined ? undefined : copyWith(comparedFees(estimatedFee, alternatives), { currency: priceCurrency }),
        ),
      call: (account, attempt) => this.callSend(account, attempt, message),
      settle: async (_account, attempt, outcome, latency) => {
        // Anything but "not taken" ends the routing; so does a callback that
        // settled the attempt while its call was in flight.
        if (outcome.kind !== "not_taken") {
          await this.settle(attempt, outcome, latency);
          return { kind: "done" };
        }
        const recorded = await this.store.settleAttempt(
          attempt.id,
          ["pending"],
          { status: "failed", error: storedProviderError(outcome.error), latency_ms: latency },
          {},
        );
        return recorded ? { kind: "next" } : { kind: "done" };
      },
      exhausted: async (routed) => {
        const error = noProviderAvailable(
          routed.candidates === 0
            ? `no enabled messaging provider account can send ${message.channel === "sms" ? "SMS" : "email"} here`
            : exhaustedMessage("message", routed),
        );
        await this.store.changeMessage(message.id, { status: "failed", error: storedProviderError(error) });
      },
    });
  }

  private async settle(attempt: AttemptRow, outcome: Exclude<SendOutcome, { kind: "not_taken" }>, latency: number): Promise<void> {
    const from = ["pending"] as const;
    switch (outcome.kind) {
      case "answered": {
        const { result } = outcome;
        const to = stateFromProvider(result.status);
        const error = result.failure ? storedProviderError(providerErrorOf(attempt.provider, result.failure)) : null;
        await this.store.settleAttempt(
          attempt.id,
          from,
          { status: to, error, latency_ms: latency, provider_message_id: result.providerMessageId },
          { status: to, providerMessageId: result.providerMessageId, ...(error && { error }) },
        );
        return;
      }
      case "rejected": {
        const error = storedProviderError(outcome.error);
        await this.store.settleAttempt(attempt.id, from, { status: "failed", error, latency_ms: latency }, { status: "failed", error });
        return;
      }
      case "unknown":
        await this.store.settleAttempt(attempt.id, from, { status: "unknown", error: storedProviderError(outcome.error), latency_ms: latency }, {});
        return;
    }
  }

  private callSend(account: ProviderAccountWithCredentials, attempt: AttemptRow, message: MessageRow): Promise<SendOutcome> {
    const common = { attemptId: attempt.id, messageId: message.id, statusCallbackUrl: this.callbackUrl(account, attempt.id) };
    return this.calls.call(account, (connector, ctx) => send(connector, ctx, common, messageContent(message)));
  }

  // The accounts to try for the message's channel, in the routing profile's
  // order. CHEAPEST compares each provider's price per unit for the
  // destination country times the message's units.
  private async candidates(message: MessageRow, exclude: ReadonlySet<string>) {
    const scope = { tenantId: message.tenant_id, environment: message.environment };
    // Rules' amount bounds count the message's units (segments or recipients).
    const request = { amount: BigInt(message.billable_units), currency: priceCurrency, country: message.country };
    return this.calls.candidates({
      scope,
      accepts: (connector) => connector.channel === message.channel,
      request,
      exclude,
      successRates: (accountIds, since) => this.store.attempts.outcomes(scope, accountIds, since),
      price: (provider, fees, defaultFees) => {
        const fee = applicableFee(copyWith(request, { provider }), fees, defaultFees);
        return fee && fee.fixedMicros * request.amount;
      },
    });
  }

  // Where the provider reports this attempt's delivery: the account's
  // inbound URL naming the attempt, signed along with the rest by providers
  // that sign the URL.
  private callbackUrl(account: { id: string; provider: string }, attemptId: string): string | undefined {
    const base = this.options.callbackBaseUrl();
    if (!base) return undefined;
    const url = new URL(base + inboundWebhookPath(account.provider, account.id));
    url.searchParams.set(callbackAttemptParam, attemptId);
    return url.toString();
  }

  // For a message whose scope was checked already.
  private async message(id: string): Promise<Message> {
    return this.store.toMessage(await this.store.messageById(id));
  }
}

function interrupted(provider: string) {
  return create(ProviderErrorSchema, {
    reason: "PROVIDER_CALL_INTERRUPTED",
    message: "the process sending the message stopped during the provider call; the provider's delivery report settles it",
    provider,
  });
}

// Accounts are chosen by channel, so the connector always sends the content's kind.
function send(
  connector: MessagingConnector,
  ctx: ConnectorContext,
  common: { attemptId: string; messageId: string; statusCallbackUrl?: string },
  content: MessageContent,
): Promise<SendResult> {
  if (connector.channel === "sms" && content.case === "sms") {
    const { to, from, body } = content.value;
    return connector.send(ctx, copyWith(common, { to, body, ...(from && { from }) }));
  }
  if (connector.channel === "email" && content.case === "email") return connector.send(ctx, copyWith(common, emailInput(content.value)));
  throw new Error(`${connector.name} does not send ${content.case}`);
}

function emailInput(email: EmailContent): Omit<SendEmailInput, "attemptId" | "messageId"> {
  const address = ({ email, name }: EmailAddressMessage): EmailAddress => (name ? { email, name } : { email });
  return {
    from: address(email.from!),
    to: email.to.map(address),
    cc: email.cc.map(address),
    bcc: email.bcc.map(address),
    ...(email.replyTo && { replyTo: address(email.replyTo) }),
    subject: email.subject,
    ...(email.text && { text: email.text }),
    ...(email.html && { html: email.html }),
  };
}
