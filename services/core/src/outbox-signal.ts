import { EventEmitter } from "node:events";
import type { Knex } from "knex";
import type pg from "pg";
import type { Migration } from "./db/database";
import { listenForNotifications } from "./db/notifications";
import type { Logger } from "./logging";

// Outbox readers (embedded mode's feed, mesh mode's relay) are woken by the
// commit that adds events instead of waiting for their poll. On a Postgres
// server the signal is a NOTIFY, sent by a trigger on the outbox and
// delivered by Postgres only at commit, to every process; on PGlite it is
// raised in this process once the appending transaction commits. Readers
// keep a slow poll as a safety net for a notification lost with a dropped
// connection.

export const outboxNotifyChannel = "onerouter_outbox";

const committed = new EventEmitter();
committed.setMaxListeners(0);

// Called by appendEvent: raises the in-process signal once the outermost
// transaction commits (a savepoint's release commits nothing), or at once
// outside a transaction. A rollback raises nothing.
export function signalOutboxCommit(db: Knex): void {
  if (!db.isTransaction) {
    committed.emit("commit");
    return;
  }
  let outermost = db as Knex.Transaction & { parentTransaction?: Knex.Transaction };
  while (outermost.parentTransaction) outermost = outermost.parentTransaction;
  outermost.executionPromise.then(
    () => committed.emit("commit"),
    () => {},
  );
}

// One statement-level trigger per insert into the outbox; Postgres folds a
// transaction's identical notifications into one.
export const outboxNotifyMigration: Migration = {
  name: "20261206_150_core_outbox_notify",
  up: (knex) => createInsertNotifyTrigger(knex, "outbox_events", outboxNotifyChannel),
};

// A trigger that sends NOTIFY on the channel after each statement inserting
// into the table (the function and trigger named `<table>_notify`); Postgres
// delivers it at commit.
export async function createInsertNotifyTrigger(knex: Knex, table: string, channel: string): Promise<void> {
  const name = `${table}_notify`;
  await knex.raw(
    `create or replace function ${name}() returns trigger language plpgsql as $$
     begin
       perform pg_notify('${channel}', '');
       return null;
     end $$`,
  );
  await knex.raw(`drop trigger if exists ${name} on ${table}`);
  await knex.raw(`create trigger ${name} after insert on ${table} for each statement execute function ${name}()`);
}

export interface CommitWatch {
  close(): Promise<void>;
}

// Calls onCommit after every commit that added outbox events: on a Postgres
// server through the outbox's NOTIFY, which every process's commits send,
// this one's included; on PGlite, or while the listening connection is down,
// through the in-process signal. Not both at once: a commit would wake the
// reader twice, and the second wake-up costs it a pass that finds nothing.
export function watchOutboxCommits(knex: Knex, onCommit: () => void, logger: Logger): CommitWatch {
  const listening = listen(knex, outboxNotifyChannel, onCommit, logger);
  const onLocalCommit = () => {
    if (!listening.active()) onCommit();
  };
  committed.on("commit", onLocalCommit);
  return {
    async close() {
      committed.off("commit", onLocalCommit);
      await listening.close();
    },
  };
}

// Calls onCommit for every NOTIFY on the channel, on a Postgres server; on
// PGlite (one process per data folder) the process signals itself instead,
// so this listens to nothing. It listens on the process's notification
// connection (db/notifications.ts), and calls onCommit once listening again
// after that connection was lost, since commits meanwhile went unheard; a
// reader's safety poll covers the gap.
export function listenForCommits(knex: Knex, channel: string, onCommit: () => void, logger: Logger): CommitWatch {
  const { close } = listen(knex, channel, onCommit, logger);
  return { close };
}

// listenForCommits, telling also whether it is listening at the moment.
function listen(knex: Knex, channel: string, onCommit: () => void, logger: Logger): CommitWatch & { active(): boolean } {
  const config = knex.client.config as Knex.Config;
  if (config.client !== "pg") return { async close() {}, active: () => false };
  const subscription = listenForNotifications(config.connection as string | pg.ClientConfig, channel, { notification: onCommit, listening: onCommit }, logger);
  return { active: () => subscription.active, close: () => subscription.close() };
}
