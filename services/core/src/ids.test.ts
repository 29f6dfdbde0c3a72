import { afterEach, describe, expect, it, vi } from "vitest";
import { idAlphabet, newId } from "./ids";

describe("newId", () => {
  it("starts with the prefix and the time, in the ids' alphabet, and sorts by time", () => {
    const before = newId("pay");
    const id = newId("pay");
    expect(id).toMatch(new RegExp(`^pay_[${idAlphabet}]{26}$`));
    // The first 9 characters (45 bits) are the time alone.
    expect(before.slice(4, 13) <= id.slice(4, 13)).toBe(true);
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("never repeats its random part, across many refills of the random bytes it draws ahead", () => {
    // Each id in a millisecond of its own, so each draws fresh random bits.
    let clock = Date.now() + 60_000;
    vi.spyOn(Date, "now").mockImplementation(() => (clock += 1));
    // 10 random bytes an id, drawn 4 KiB at a time: 5,000 ids take twelve draws.
    const randomParts = Array.from({ length: 5000 }, () => newId("evt").slice(4 + 10));
    expect(new Set(randomParts).size).toBe(randomParts.length);
    // Each wholly random character (the last holds 3 bits) takes many values: none is stuck.
    for (let position = 0; position < 15; position++) {
      expect(new Set(randomParts.map((part) => part[position])).size).toBeGreaterThan(20);
    }
  });

  it("sorts a process's ids in the order it made them, within one millisecond and with the clock set back", () => {
    const at = Date.now() + 120_000;
    const clock = vi.spyOn(Date, "now").mockReturnValue(at);
    const sameMillisecond = Array.from({ length: 2000 }, () => newId("evt"));
    clock.mockReturnValue(at - 5_000);
    const clockSetBack = Array.from({ length: 100 }, () => newId("evt"));
    const ids = [...sameMillisecond, ...clockSetBack];
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    // Still the millisecond they were made in (a step carries into it only past 2^80).
    expect(new Set(sameMillisecond.map((id) => id.slice(4, 13))).size).toBe(1);
  });
});
