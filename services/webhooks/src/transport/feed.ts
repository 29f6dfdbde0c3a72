import type { DeliveryWaker } from "./fanout";

// Where the dispatcher gets its events: the outbox table itself (embedded
// mode) or the JetStream stream (mesh mode). A feed fans each batch out in
// one statement and treats it as handled only once that has committed, so a
// crash in between hands the batch out again; it then wakes `waker` with the
// endpoints owed new deliveries.
export interface EventFeed {
  // Resolves once the feed is taking events.
  start(waker: DeliveryWaker): Promise<void>;
  // Stops taking events and waits for the batch in hand.
  stop(): Promise<void>;
}
