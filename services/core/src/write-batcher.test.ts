import { describe, expect, it } from "vitest";
import { WriteBatcher } from "./write-batcher";

describe("WriteBatcher", () => {
  // A write that records each batch and answers each entry doubled, failing
  // any batch that holds a negative entry.
  function recorded(maxBatch: number) {
    const batches: number[][] = [];
    const batcher = new WriteBatcher<number, number>(async (entries) => {
      batches.push(entries);
      await new Promise((r) => setTimeout(r, 5));
      if (entries.some((e) => e < 0)) throw new Error(`negative in ${entries.join(",")}`);
      return entries.map((e) => e * 2);
    }, maxBatch);
    return { batches, batcher };
  }

  it("writes a lone entry at once, and what arrives meanwhile together, up to the cap", async () => {
    const { batches, batcher } = recorded(3);
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map((e) => batcher.add(e)));
    expect(results).toEqual([2, 4, 6, 8, 10, 12]);
    expect(batches).toEqual([[1], [2, 3, 4], [5, 6]]);
  });

  it("fails only the entry a shared write failed on, retrying the others alone", async () => {
    const { batches, batcher } = recorded(10);
    const outcomes = await Promise.allSettled([1, 2, -3, 4].map((e) => batcher.add(e)));
    expect(outcomes.map((o) => (o.status === "fulfilled" ? o.value : String(o.reason)))).toEqual([2, 4, "Error: negative in -3", 8]);
    expect(batches).toEqual([[1], [2, -3, 4], [2], [-3], [4]]);
  });
});
