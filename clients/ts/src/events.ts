import { ConnectError, type Client } from "@connectrpc/connect";
import type { Event } from "./gen/onerouter/events/v1/events_pb";
import { WebhookService } from "./gen/onerouter/webhooks/v1/webhooks_pb";
import { backoffMs, defaultRetryOptions, isTransientError, sleep, type RetryOptions } from "./interceptors";

export interface EventStreamOptions {
  /** Event types to receive; empty or absent means all. "payment.*" matches a prefix. */
  eventTypes?: string[];
  /** Start right after this event (the last one you handled); absent starts with events recorded from now on. */
  afterEventId?: string;
  /** Ends the stream; the loop over it then finishes without an error. */
  signal?: AbortSignal;
  /** Backoff between reconnects, growing from initialBackoffMs to maxBackoffMs with jitter. */
  reconnect?: Partial<Pick<RetryOptions, "initialBackoffMs" | "maxBackoffMs">>;
  /** Called each time the stream is open, the first time and after every reconnect. */
  onOpen?(info: { afterEventId: string | undefined }): void;
  /** Called when the stream broke and will be opened again in `retryInMs`. */
  onDisconnect?(info: { error: ConnectError; retryInMs: number; afterEventId: string | undefined }): void;
}

const streamEventsMethod = WebhookService.method.streamEvents;

/**
 * The caller's events as they are recorded, as an async iterator:
 *
 *   for await (const event of onerouter.events({ eventTypes: ["payment.*"] })) { ... }
 *
 * When the stream breaks for a transient reason (a dropped connection, a
 * restarting server) it is opened again after a backoff, from the last event
 * received, so nothing recorded meanwhile is missed and nothing comes twice.
 * Other errors (a revoked key, an unknown afterEventId) end the loop with
 * the error. Heartbeats are not events and are not yielded.
 */
export async function* streamEvents(
  webhooks: Client<typeof WebhookService>,
  options: EventStreamOptions = {},
): AsyncGenerator<Event, void, undefined> {
  const backoff = { ...defaultRetryOptions, ...options.reconnect };
  let afterEventId = options.afterEventId;
  let failures = 0;
  while (!options.signal?.aborted) {
    try {
      const stream = webhooks.streamEvents(
        { eventTypes: options.eventTypes ?? [], afterEventId: afterEventId ?? "" },
        { signal: options.signal },
      );
      let opened = false;
      for await (const { event } of stream) {
        if (!opened) {
          opened = true;
          failures = 0;
          options.onOpen?.({ afterEventId });
        }
        if (!event) continue;
        afterEventId = event.id;
        yield event;
      }
      // Ended without an error (a proxy closing it): opened again at once.
    } catch (err) {
      if (options.signal?.aborted) return;
      if (!isTransientError(err, streamEventsMethod)) throw err;
      failures++;
      const retryInMs = backoffMs(failures, { ...backoff, maxAttempts: Infinity });
      options.onDisconnect?.({ error: ConnectError.from(err), retryInMs, afterEventId });
      try {
        await sleep(retryInMs, options.signal ?? new AbortController().signal);
      } catch {
        return;
      }
    }
  }
}
