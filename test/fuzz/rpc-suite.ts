import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fuzzSeed, Rng } from "./corpus";
import { allMethods } from "./methods";
import { rpcFuzzTasks } from "./rpc";
import { runAll, Tally } from "./tally";
import { startFuzzTarget, type FuzzTarget } from "./target";
import type { HttpVersion, Protocol } from "./wire";

// One fuzz suite over every RPC on the given protocols: generated and
// mutated bodies, each answered typed, without 5xx, INTERNAL or UNKNOWN.

const perMethod = 24;

export function describeRpcFuzz(options: {
  // The reliability suite's name and its test file.
  suite: string;
  source: string;
  // What it covers, e.g. "Connect JSON and binary, HTTP/1.1 and h2c".
  over: string;
  protocols: Protocol[];
  httpVersions: HttpVersion[];
}) {
  describe(`fuzz: every RPC over ${options.over}`, () => {
    let target: FuzzTarget;
    beforeAll(async () => {
      target = await startFuzzTarget();
    });
    afterAll(async () => target?.close());

    it("answers every generated and mutated request with a typed, non-5xx result", async () => {
      const { apiKey, wire } = target;
      const startedAt = Date.now();
      const seed = fuzzSeed();
      const tally = new Tally(seed);
      const methods = await allMethods();
      const tasks = rpcFuzzTasks({
        wire,
        methods,
        protocols: options.protocols,
        httpVersions: options.httpVersions,
        perMethod,
        apiKey,
        rng: new Rng(seed),
        tally,
      });
      await runAll(tasks, 32);
      tally.record(options.suite, options.source, startedAt, tally.rows(`${methods.length} RPCs over ${options.over}`));
      const report = `seed ${seed}:\n${tally.samples.join("\n")}`;
      expect(tally.requests, report).toBeGreaterThanOrEqual(methods.length * perMethod);
      expect({ unanswered: tally.unanswered, http5xx: tally.http5xx, internal: tally.internal, untyped: tally.errors - tally.typedErrors }, report).toEqual({
        unanswered: 0,
        http5xx: 0,
        internal: 0,
        untyped: 0,
      });
    }, 120_000);
  });
}
