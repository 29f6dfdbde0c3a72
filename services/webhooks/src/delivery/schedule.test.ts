import { describe, expect, it } from "vitest";
import { RetrySchedule, defaultRetryScheduleMs, parseRetryAfter } from "./schedule";

const now = new Date("2026-11-21T12:00:00Z");
const failure = (statusCode: number, retryAfter?: string) => ({ statusCode, error: "", retryAfter });
const waitAfter = (verdict: ReturnType<RetrySchedule["verdict"]>) =>
  verdict.outcome === "retry" ? verdict.nextAttemptAt.getTime() - now.getTime() : verdict.outcome;

describe("RetrySchedule", () => {
  it("waits the scheduled time ±20 % after each failure and gives up after the last attempt", () => {
    const schedule = new RetrySchedule({ delaysMs: defaultRetryScheduleMs });
    expect(schedule.attempts).toBe(8);
    for (let attempt = 1; attempt < 8; attempt++) {
      for (let i = 0; i < 50; i++) {
        const wait = waitAfter(schedule.verdict(failure(500), attempt, now)) as number;
        expect(wait).toBeGreaterThanOrEqual(defaultRetryScheduleMs[attempt]! * 0.8 - 1);
        expect(wait).toBeLessThanOrEqual(defaultRetryScheduleMs[attempt]! * 1.2 + 1);
      }
    }
    expect(schedule.verdict(failure(500), 8, now)).toEqual({ outcome: "exhausted" });
  });

  it("is compressed by the scale", () => {
    const schedule = new RetrySchedule({ delaysMs: defaultRetryScheduleMs, scale: 0.001, jitter: 0 });
    expect(waitAfter(schedule.verdict(failure(500), 2, now))).toBe(300);
    expect(waitAfter(schedule.verdict(failure(500), 7, now))).toBe(36_000);
  });

  it("counts 2xx without an error as success and anything else as failure", () => {
    const schedule = new RetrySchedule({ delaysMs: [0, 10] });
    expect(schedule.verdict(failure(204), 1, now)).toEqual({ outcome: "succeeded" });
    expect(schedule.verdict({ statusCode: 302, error: "redirects are not followed" }, 1, now).outcome).toBe("retry");
    expect(schedule.verdict({ statusCode: 0, error: "connection refused" }, 1, now).outcome).toBe("retry");
  });

  it("stops at once on 410 Gone", () => {
    expect(new RetrySchedule({ delaysMs: defaultRetryScheduleMs }).verdict(failure(410), 1, now)).toEqual({ outcome: "gone" });
  });

  it("honours Retry-After on 429 and 503 when later, up to the step after next", () => {
    const schedule = new RetrySchedule({ delaysMs: [0, 1000, 60_000, 600_000], jitter: 0 });
    expect(waitAfter(schedule.verdict(failure(429, "30"), 1, now))).toBe(30_000);
    expect(waitAfter(schedule.verdict(failure(503, "30"), 1, now))).toBe(30_000);
    // Earlier than the schedule: the schedule wins.
    expect(waitAfter(schedule.verdict(failure(503, "0"), 2, now))).toBe(60_000);
    // Capped at the step after next.
    expect(waitAfter(schedule.verdict(failure(429, "86400"), 1, now))).toBe(60_000);
    expect(waitAfter(schedule.verdict(failure(429, "86400"), 3, now))).toBe(600_000);
    // Only 429 and 503 ask for it.
    expect(waitAfter(schedule.verdict(failure(500, "30"), 1, now))).toBe(1000);
    const date = new Date(now.getTime() + 45_000).toUTCString();
    expect(waitAfter(schedule.verdict(failure(503, date), 1, now))).toBe(45_000);
  });
});

describe("parseRetryAfter", () => {
  it.each([
    ["120", 120_000],
    [" 5 ", 5000],
    ["Sat, 21 Nov 2026 12:01:00 GMT", 60_000],
    ["Sat, 21 Nov 2026 11:00:00 GMT", 0],
    ["soon", undefined],
    ["1.5", undefined],
    ["-3", undefined],
  ])("reads %j as %s ms", (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});
