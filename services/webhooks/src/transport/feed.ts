import type { EventHandler } from "./fanout";

// Where the dispatcher gets its events: the outbox table itself (embedded
// mode) or the JetStream stream (mesh mode). A feed hands batches to the
// handler inside a database transaction and treats them as handled only once
// that transaction commits, so a crash in between hands them out again.
export interface EventFeed {
  // Resolves once the feed is taking events.
  start(onEvents: EventHandler): Promise<void>;
  // Stops taking events and waits for the batch in hand.
  stop(): Promise<void>;
}
