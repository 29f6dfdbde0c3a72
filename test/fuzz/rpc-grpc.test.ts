import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestOneRouter } from "@onerouter/server/testing";
import { fuzzSeed, Rng } from "./corpus";
import { allMethods } from "./methods";
import { rpcFuzzTasks } from "./rpc";
import { runAll, Tally } from "./tally";
import { startFuzzTarget } from "./target";
import { Wire } from "./wire";

// Every RPC over gRPC and gRPC-Web (binary and JSON), h2c and HTTP/1.1, with generated
// and mutated bodies.

const perMethod = 24;

describe("fuzz: every RPC over gRPC and gRPC-Web", () => {
  let app: TestOneRouter;
  let apiKey: string;
  let wire: Wire;
  beforeAll(async () => {
    ({ app, apiKey } = await startFuzzTarget());
    wire = new Wire(app.baseUrl);
  });
  afterAll(async () => {
    wire?.close();
    await app?.close();
  });

  it("answers every generated and mutated request with a typed, non-5xx result", async () => {
    const startedAt = Date.now();
    const seed = fuzzSeed();
    const tally = new Tally(seed);
    const methods = await allMethods();
    const tasks = rpcFuzzTasks({
      wire,
      methods,
      protocols: ["grpc", "grpc-web", "grpc+json", "grpc-web+json"],
      httpVersions: ["h2", "h1"],
      perMethod,
      apiKey,
      rng: new Rng(seed),
      tally,
    });
    await runAll(tasks, 32);
    tally.record("fuzz-rpc-grpc", "test/fuzz/rpc-grpc.test.ts", startedAt, tally.rows(`${methods.length} RPCs over gRPC and gRPC-Web, h2c and HTTP/1.1`));
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
