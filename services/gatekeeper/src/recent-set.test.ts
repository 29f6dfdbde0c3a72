import { describe, expect, it } from "vitest";
import { RecentSet } from "./recent-set";

describe("RecentSet", () => {
  it("forgets after its time to live and beyond its size, oldest first", () => {
    let now = 0;
    const recent = new RecentSet(1000, 2, () => now);
    recent.add("a");
    recent.add("b");
    expect(recent.has("a")).toBe(true);
    recent.add("c");
    expect([recent.has("a"), recent.has("b"), recent.has("c")]).toEqual([false, true, true]);
    now = 999;
    expect(recent.has("c")).toBe(true);
    now = 1000;
    expect(recent.has("c")).toBe(false);
  });

  it("remembers nothing when its size or time to live is 0", () => {
    for (const recent of [new RecentSet(0, 10), new RecentSet(1000, 0)]) {
      recent.add("a");
      expect(recent.has("a")).toBe(false);
    }
  });
});
