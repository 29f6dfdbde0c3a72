import { randomBytes } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "@onerouter/client/gen/google/rpc/error_details_pb";
import { PaymentService } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { startTestOneRouter, type TestOneRouter } from "@onerouter/server/testing";
import { afterAll, describe, expect, it } from "vitest";
import { startPostgres, type PostgresServer } from "../infra";
import { recordReliability } from "../reliability/record";
import { chaosClient, withKey } from "./support/crash-loop";
import { chaosMasterKey } from "./support/tenant";

const postgres = await startPostgres();

interface Outcome {
  phase: "before" | "down" | "after";
  ok: boolean;
  code?: Code;
  reason?: string;
  message?: string;
  ms: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The product on a Postgres of its own that is stopped (immediately, as a
// crash would) and started again while calls keep coming: meanwhile each call
// gets a typed UNAVAILABLE promptly, and the same process recovers on its own.
describe.skipIf(!postgres)("Postgres restarted under load", () => {
  let app: TestOneRouter | undefined;
  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await postgres?.stop();
  });

  it("answers UNAVAILABLE with ErrorInfo while the database is down, and recovers without a restart", async () => {
    const started = Date.now();
    const pg = postgres as PostgresServer;
    app = await startTestOneRouter({
      env: {
        DATABASE_URL: pg.url,
        ONEROUTER_MASTER_KEY: chaosMasterKey.toString("base64"),
        // Six unpaced workers on one key outrun the default 100 per second
        // once calls are quick; this test is about the database, not the rate.
        ONEROUTER_RATE_LIMIT_RPS: "100000",
        ONEROUTER_RATE_LIMIT_BURST: "100000",
      },
    });
    const { secret } = await app.createKey();
    const client = chaosClient(app.baseUrl, PaymentService, secret);
    const outcomes: Outcome[] = [];
    let phase: Outcome["phase"] = "before";
    let running = true;
    let lastPaymentId = "";

    // Payments, reads and lists: each touches the database for the key, then for itself.
    const calls = [
      async () => {
        const key = `pg-${randomBytes(6).toString("hex")}`;
        lastPaymentId = (await client.createPayment({ amount: 500n, currency: "EUR" }, withKey(key))).payment!.id;
      },
      async () => {
        if (lastPaymentId) await client.getPayment({ id: lastPaymentId }, { timeoutMs: 15_000 });
      },
      async () => {
        await client.listPayments({ pageSize: 5 }, { timeoutMs: 15_000 });
      },
    ];
    const workers = Array.from({ length: 6 }, async (_, worker) => {
      for (let i = 0; running; i++) {
        const callPhase = phase;
        const callStarted = Date.now();
        try {
          await calls[(worker + i) % calls.length]!();
          outcomes.push({ phase: callPhase, ok: true, ms: Date.now() - callStarted });
        } catch (err) {
          const error = ConnectError.from(err);
          const reason = error.findDetails(ErrorInfoSchema)[0]?.reason;
          outcomes.push({ phase: callPhase, ok: false, code: error.code, reason, message: error.rawMessage, ms: Date.now() - callStarted });
          await sleep(50);
        }
      }
    });

    await sleep(2000);
    phase = "down";
    await pg.halt();
    await sleep(5000);
    await pg.resume();
    const resumedAt = Date.now();
    phase = "after";
    // Recovered once a payment succeeds again; then a while more to see it keeps working.
    const deadline = resumedAt + 30_000;
    let recoveredAt = 0;
    while (!recoveredAt && Date.now() < deadline) {
      await sleep(100);
      if (outcomes.some((o) => o.phase === "after" && o.ok)) recoveredAt = Date.now();
    }
    await sleep(2000);
    running = false;
    await Promise.all(workers);

    const errors = outcomes.filter((o) => !o.ok);
    const untyped = errors.filter((o) => o.code !== Code.Unavailable || !o.reason);
    const downCalls = outcomes.filter((o) => o.phase === "down");
    const slowest = Math.max(...outcomes.map((o) => o.ms));
    const tail = outcomes.slice(-20);
    const reasons = [...new Set(errors.map((o) => `${Code[o.code!]}/${o.reason ?? "no ErrorInfo"}`))].join(", ");
    recordReliability({
      suite: "chaos-postgres-restart",
      source: "test/chaos/postgres-restart.test.ts",
      durationMs: Date.now() - started,
      rows: [
        {
          check: "Postgres stopped for 5 s under load: answers meanwhile",
          tried: `${outcomes.length} calls, ${downCalls.length} while it was down`,
          expected: "every error UNAVAILABLE with ErrorInfo, none slower than 15 s",
          found: `${errors.length} errors (${reasons || "none"}), ${untyped.length} untyped; slowest call ${(slowest / 1000).toFixed(1)} s`,
          ok: untyped.length === 0 && slowest < 15_000 && errors.length > 0,
        },
        {
          check: "Postgres started again: the same process recovers",
          tried: "1 restart of Postgres, no restart of OneRouter",
          expected: "payments succeed again within 30 s",
          found: recoveredAt
            ? `recovered ${((recoveredAt - resumedAt) / 1000).toFixed(1)} s after Postgres was back; the last 20 calls: ${tail.filter((o) => o.ok).length} ok`
            : "did not recover within 30 s",
          ok: recoveredAt > 0 && tail.every((o) => o.ok),
        },
      ],
    });

    expect(downCalls.length).toBeGreaterThan(0);
    expect(errors.length, "calls failed while the database was down").toBeGreaterThan(0);
    expect(untyped.map((o) => `${Code[o.code!]}/${o.reason}: ${o.message}`)).toEqual([]);
    expect(slowest).toBeLessThan(15_000);
    expect(recoveredAt, "a payment succeeded after Postgres came back").toBeGreaterThan(0);
    expect(tail.every((o) => o.ok), `the last calls: ${JSON.stringify(tail)}`).toBe(true);
  }, 90_000);
});
