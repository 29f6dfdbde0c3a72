import type { Knex } from "knex";
import { runPrepared, withParts, type Sql } from "./db/statements";
import type { Logger } from "./logging";
import { watchOutboxCommits, type CommitWatch } from "./outbox-signal";
import { Poller } from "./poller";

// How often outbox readers look without being woken.
export const outboxSafetyPollMs = 2000;

// What a reader does with each batch it claims, as the rest of the one
// statement that claims it: `parts` follow the claim, a part named "claimed"
// whose rows are outbox_events' (id, tenant_id, environment, type, payload,
// created_at, traceparent), and `select` answers one row, handed to
// `handled` once the statement has committed.
export interface OutboxConsumer<Answer> {
  statement(): { parts: readonly (readonly [name: string, part: Sql])[]; select: Sql };
  handled(answer: Answer): void;
}

// How soon after the start of one pass a commit can start the next. A pass
// costs about what a payment's own transaction does, and a payment commits
// twice: with payments one after another, a pass per commit added about 40 %
// to the platform's CPU per payment and about 1.5 ms to its latency on
// average, the passes running alongside it (bench/payments, concurrency 1,
// against a 25 ms gap). Commits within the gap are taken together; one after
// a quiet spell is taken at once.
export const outboxPassGapMs = 20;

export interface OutboxReaderOptions {
  batchSize?: number;
  pollIntervalMs?: number;
  minPassGapMs?: number;
}

// Embedded mode's in-process reader of the outbox, oldest first, since no
// relay publishes the events anywhere else. Each pass is one statement: the
// batch is claimed with FOR UPDATE SKIP LOCKED and marked fanned out, and the
// consumer's parts take it, so several processes on one database take
// disjoint batches, a statement that fails leaves its batch unmarked, and
// only the outbox's own room writes its progress. One statement is one round
// trip and no transaction of the reader's own. A commit that adds events
// wakes it, at most once per `minPassGapMs`; a full batch is followed by the
// next at once; the poll is a safety net.
export class OutboxReader {
  private poller: Poller | undefined;
  private watch: CommitWatch | undefined;

  constructor(
    private readonly knex: Knex,
    private readonly logger: Logger,
    private readonly options: OutboxReaderOptions = {},
  ) {}

  start<Answer>(consumer: OutboxConsumer<Answer>): void {
    const batchSize = this.options.batchSize ?? 100;
    this.poller ??= new Poller("outbox feed", () => this.claimAndHand(consumer, batchSize), {
      intervalMs: this.options.pollIntervalMs ?? outboxSafetyPollMs,
      errorBackoffMs: 1000,
      logger: this.logger,
      minGapMs: this.options.minPassGapMs ?? outboxPassGapMs,
    });
    const poller = this.poller;
    this.watch ??= watchOutboxCommits(this.knex, () => poller.wake(), this.logger);
    this.poller.start();
  }

  async stop(): Promise<void> {
    await this.watch?.close();
    this.watch = undefined;
    await this.poller?.stop();
  }

  // True when the batch was full, so more may be waiting.
  private async claimAndHand<Answer>(consumer: OutboxConsumer<Answer>, batchSize: number): Promise<boolean> {
    const { parts, select } = consumer.statement();
    const claim: Sql = {
      sql: `update "outbox_events" set fanned_out_at = ?
        where id in (
          select id from "outbox_events"
           where fanned_out_at is null
           order by created_at
           limit ?
           for update skip locked)
        returning id, tenant_id, environment, type, payload, created_at, traceparent`,
      bindings: [new Date(), batchSize],
    };
    const { rows } = await runPrepared<Answer & { outbox_claimed: number }>(
      this.knex,
      withParts([["claimed", claim], ...parts], {
        sql: `select (select count(*) from "claimed")::integer as outbox_claimed, answer.* from (${select.sql}) answer`,
        bindings: select.bindings,
      }),
    );
    const { outbox_claimed: claimed, ...answer } = rows[0]!;
    if (claimed > 0) consumer.handled(answer as Answer);
    return claimed === batchSize;
  }
}
