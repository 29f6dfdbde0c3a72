import type { WebhookPostResult } from "./http-client";

// When a failed delivery is tried again. Entry i of the schedule is the wait
// before attempt i + 1: the default tries immediately, then after 5 s, 5 min,
// 30 min, 2 h, 5 h, 10 h and 10 h, and gives up after the eighth attempt. Each
// wait is spread by ±20 % so endpoints that failed together are not retried
// in lockstep.

export const defaultRetryScheduleMs = [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];

export interface RetryScheduleOptions {
  delaysMs: readonly number[];
  // Multiplies every wait; tests compress the schedule with e.g. 0.001.
  scale?: number;
  // Fraction each wait may move either way; 0.2 by default.
  jitter?: number;
}

export type AttemptVerdict =
  | { outcome: "succeeded" }
  | { outcome: "retry"; nextAttemptAt: Date }
  // The schedule has no attempt left.
  | { outcome: "exhausted" }
  // 410 Gone: the endpoint says it will never take deliveries again.
  | { outcome: "gone" };

export class RetrySchedule {
  private readonly delaysMs: number[];
  private readonly jitter: number;

  constructor(options: RetryScheduleOptions) {
    const scale = options.scale ?? 1;
    this.delaysMs = options.delaysMs.map((ms) => ms * scale);
    this.jitter = options.jitter ?? 0.2;
  }

  get attempts(): number {
    return this.delaysMs.length;
  }

  // What follows an attempt, given how many attempts (this one included) were made.
  verdict(result: Pick<WebhookPostResult, "statusCode" | "error" | "retryAfter">, attemptsMade: number, now: Date): AttemptVerdict {
    if (result.error === "" && result.statusCode >= 200 && result.statusCode < 300) return { outcome: "succeeded" };
    if (result.statusCode === 410) return { outcome: "gone" };
    const scheduled = this.delaysMs[attemptsMade];
    if (scheduled === undefined) return { outcome: "exhausted" };
    let delay = scheduled * (1 + this.jitter * (2 * Math.random() - 1));
    const askedMs =
      (result.statusCode === 429 || result.statusCode === 503) && result.retryAfter !== undefined
        ? parseRetryAfter(result.retryAfter, now)
        : undefined;
    if (askedMs !== undefined && askedMs > delay) {
      // Honoured up to the step after next, so a huge Retry-After cannot park a delivery for days.
      const cap = this.delaysMs[Math.min(attemptsMade + 1, this.delaysMs.length - 1)]!;
      delay = Math.max(delay, Math.min(askedMs, cap));
    }
    return { outcome: "retry", nextAttemptAt: new Date(now.getTime() + Math.round(delay)) };
  }
}

// Retry-After as milliseconds from now: delay-seconds or an HTTP date.
// Undefined when it is neither.
export function parseRetryAfter(value: string, now: Date): number | undefined {
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // HTTP dates are always in GMT ("Wed, 21 Oct 2026 07:28:00 GMT").
  const at = /GMT$/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now.getTime());
}
