import { hostname } from "node:os";
import { EventType, ProviderAccountEventDataSchema } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { create } from "@bufbuild/protobuf";
import { appendEvent, environmentFromName, type Knex, type Logger } from "@onerouter/core";
import type { CircuitTransition } from "./circuit-breaker";
import { categoryFromName, type ProviderAccountStore } from "./provider-accounts";

// Turns this process's breaker transitions into provider_account.circuit_opened
// and circuit_closed events for the account's tenant. Breakers are per
// process, so each process emits the transitions of its own breakers, named
// in the event's `process`: with several processes one outage may bring one
// event from each. A transition is not a state change in the database, so
// its event is written on its own, after the fact; one that cannot be
// written is logged.
export class CircuitEvents {
  private readonly process = `${hostname()}:${process.pid}`;
  private pending = new Set<Promise<void>>();

  constructor(
    private readonly knex: Knex,
    private readonly accounts: ProviderAccountStore,
    private readonly logger?: Logger,
  ) {}

  emit(transition: CircuitTransition): void {
    const writing = this.write(transition)
      .catch((err: unknown) => this.logger?.error({ err, ...transition }, "recording a circuit event failed"))
      .finally(() => this.pending.delete(writing));
    this.pending.add(writing);
  }

  // Waits for the events still being written, e.g. before the database closes.
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending);
  }

  private async write({ accountId, provider, transition, reason }: CircuitTransition): Promise<void> {
    // A deleted account has no tenant to tell.
    const account = await this.accounts.locate(accountId);
    if (!account) return;
    await appendEvent(this.knex, {
      type: transition === "opened" ? EventType.PROVIDER_ACCOUNT_CIRCUIT_OPENED : EventType.PROVIDER_ACCOUNT_CIRCUIT_CLOSED,
      tenantId: account.tenantId,
      environment: environmentFromName(account.environment),
      data: {
        case: "providerAccount",
        value: create(ProviderAccountEventDataSchema, {
          providerAccountId: accountId,
          provider,
          category: categoryFromName(account.category),
          reason,
          process: this.process,
        }),
      },
    });
  }
}
