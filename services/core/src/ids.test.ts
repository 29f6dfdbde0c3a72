import { describe, expect, it } from "vitest";
import { idAlphabet, newId } from "./ids";

describe("newId", () => {
  it("starts with the prefix and the time, in the ids' alphabet, and sorts by time", () => {
    const before = newId("pay");
    const id = newId("pay");
    expect(id).toMatch(new RegExp(`^pay_[${idAlphabet}]{26}$`));
    // The first 9 characters (45 bits) are the time alone.
    expect(before.slice(4, 13) <= id.slice(4, 13)).toBe(true);
  });

  it("never repeats its random part, across many refills of the random bytes it draws ahead", () => {
    // 10 random bytes an id, drawn 4 KiB at a time: 5,000 ids take twelve draws.
    const randomParts = Array.from({ length: 5000 }, () => newId("evt").slice(4 + 10));
    expect(new Set(randomParts).size).toBe(randomParts.length);
    // Each wholly random character (the last holds 3 bits) takes many values: none is stuck.
    for (let position = 0; position < 15; position++) {
      expect(new Set(randomParts.map((part) => part[position])).size).toBeGreaterThan(20);
    }
  });
});
