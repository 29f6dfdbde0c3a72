import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { HealthStatus, ProviderHealthSchema, type ProviderHealth } from "@onerouter/client/gen/onerouter/admin/v1/provider_accounts_pb";
import type { ProviderError } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import type { Knex, Logger } from "@onerouter/core";
import type { CircuitBreakers } from "./circuit-breaker";
import type { CategoryConnectors, RegisteredConnector } from "./connector-registry";
import { PeriodicWork, unlessAborted } from "./periodic-work";
import type { ProviderAccountStore, ProviderAccountWithCredentials } from "./provider-accounts";
import { classifyCallFailure, providerErrorFromColumn, recordCallHealth, storedProviderError } from "./provider-calls";

// Provider health: in the background every account of a category is
// checked with the cheap authenticated call its connector declares
// (testCredentials: an account or balance fetch through the provider's SDK),
// timed, and the result kept per account: healthy, degraded (answered, but
// slower than the threshold) or down (not answered, or the credentials
// refused). The call also tells the account's circuit breaker what it says
// of the provider, as a routed call would, so an outage opens the circuit
// before customers' calls meet it and a recovery closes it.
//
// Every process hosting the category probes every account; the table keeps
// whichever result came last.

export type HealthStatusName = "healthy" | "degraded" | "down";

export interface HealthCheck {
  status: HealthStatusName;
  responseTimeMs: number;
  checkedAt: Date;
  // Why the account is down; undefined when it answered.
  error?: ProviderError;
}

interface HealthRow {
  provider_account_id: string;
  status: HealthStatusName;
  response_time_ms: number;
  checked_at: Date | string;
  error: string | null;
}

const statusValues: Record<HealthStatusName, HealthStatus> = {
  healthy: HealthStatus.HEALTHY,
  degraded: HealthStatus.DEGRADED,
  down: HealthStatus.DOWN,
};

export class ProviderHealthStore {
  constructor(private readonly knex: Knex) {}

  async record(accountId: string, check: HealthCheck): Promise<void> {
    await this.knex("provider_account_health")
      .insert({
        provider_account_id: accountId,
        status: check.status,
        response_time_ms: check.responseTimeMs,
        checked_at: check.checkedAt,
        error: storedProviderError(check.error),
      })
      .onConflict("provider_account_id")
      .merge();
  }

  // The last check of each account that has one.
  async of(accountIds: readonly string[]): Promise<Map<string, HealthCheck>> {
    if (accountIds.length === 0) return new Map();
    const rows = (await this.knex("provider_account_health").whereIn("provider_account_id", accountIds)) as HealthRow[];
    return new Map(
      rows.map((r) => {
        const error = providerErrorFromColumn(r.error);
        const check: HealthCheck = { status: r.status, responseTimeMs: r.response_time_ms, checkedAt: new Date(r.checked_at), ...(error && { error }) };
        return [r.provider_account_id, check];
      }),
    );
  }
}

// ProviderAccount.health.
export function providerHealthMessage(check: HealthCheck): ProviderHealth {
  return create(ProviderHealthSchema, {
    status: statusValues[check.status],
    responseTime: durationFromMs(check.responseTimeMs),
    lastCheckTime: timestampFromDate(check.checkedAt),
    ...(check.error && { error: check.error }),
  });
}

export interface ProviderProberOptions<C extends RegisteredConnector> {
  accounts: ProviderAccountStore;
  health: ProviderHealthStore;
  connectors: CategoryConnectors<C>;
  breakers: CircuitBreakers;
  intervalMs: number;
  // An answer slower than this is DEGRADED.
  degradedAfterMs: number;
  logger?: Logger;
}

// Accounts probed at once.
const probeConcurrency = 4;

export class ProviderProber<C extends RegisteredConnector> extends PeriodicWork {
  constructor(private readonly options: ProviderProberOptions<C>) {
    super(`probing ${options.connectors.category} providers`, options.intervalMs, options.logger);
  }

  protected round(signal: AbortSignal): Promise<void> {
    return this.probeAll(signal);
  }

  // One round: every enabled account of the category, a few at a time.
  async probeAll(signal: AbortSignal = new AbortController().signal): Promise<void> {
    const { connectors } = this.options;
    const accounts = (await this.options.accounts.listAllEnabled(connectors.category)).filter((a) => connectors.get(a.provider));
    let next = 0;
    const worker = async () => {
      while (next < accounts.length && !signal.aborted) {
        const account = accounts[next++]!;
        await this.probe(account, signal);
      }
    };
    await Promise.all(Array.from({ length: Math.min(probeConcurrency, accounts.length) }, worker));
  }

  // Undefined when the round stopped before the provider answered.
  async probe(account: ProviderAccountWithCredentials, signal: AbortSignal = new AbortController().signal): Promise<HealthCheck | undefined> {
    const { connectors, breakers, logger } = this.options;
    const connector = connectors.require(account.provider);
    // The check is dated when it was made; its answer may come later.
    const checkedAt = new Date();
    const started = performance.now();
    let failure: ReturnType<typeof classifyCallFailure> | undefined;
    try {
      const answered = await unlessAborted(signal, connector.testCredentials(connectors.context(account)));
      if (!answered) return undefined;
    } catch (err) {
      if (signal.aborted) return undefined;
      failure = classifyCallFailure(account.provider, err, logger);
    }
    const responseTimeMs = Math.round(performance.now() - started);
    recordCallHealth(breakers, account, failure?.kind ?? "answered");
    const check: HealthCheck = failure
      ? { status: "down", responseTimeMs, checkedAt, error: failure.error }
      : { status: responseTimeMs > this.options.degradedAfterMs ? "degraded" : "healthy", responseTimeMs, checkedAt };
    await this.options.health.record(account.id, check);
    return check;
  }
}
