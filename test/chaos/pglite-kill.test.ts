import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PaymentService } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../infra";
import { recordReliability } from "../reliability/record";
import { chaosClient } from "./support/crash-loop";
import { createKeyWithCli } from "./support/cli";
import { killAllChildren, killHard, startProduct, type ProductProcess } from "./support/processes";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The embedded product (PGlite in a data folder) killed with SIGKILL while
// it writes payments, then started again on the same folder: it opens, and
// every payment whose CreatePayment was answered is there.
describe("the embedded database killed mid-write", () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "onerouter-chaos-pglite-"));
  afterAll(async () => {
    await killAllChildren();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("reopens with every acknowledged payment", async () => {
    const started = Date.now();
    const port = await freePort();
    const env = { ONEROUTER_DATA_DIR: dataDir, ONEROUTER_RATE_LIMIT_RPS: "10000", ONEROUTER_RATE_LIMIT_BURST: "10000" };
    let product: ProductProcess = await startProduct(port, env);
    // The key comes the way a user gets one: from the CLI, through the running server.
    const secret = await createKeyWithCli(env);
    const client = chaosClient(product.baseUrl, PaymentService, secret);

    const acknowledged = new Set<string>();
    const crashes = 3;
    const missingAfter: number[] = [];
    let openFailure: unknown;
    const storedIds = async () => {
      const ids = new Set<string>();
      let pageToken = "";
      for (let page = 0; page < 1000; page++) {
        const res = await client.listPayments({ pageSize: 100, pageToken }, { timeoutMs: 15_000 });
        for (const p of res.payments) ids.add(p.id);
        pageToken = res.nextPageToken;
        if (!pageToken) break;
      }
      return ids;
    };

    // Rounds stop early on a machine too loaded to fit them, so the figures are still recorded.
    let kills = 0;
    for (let crash = 0; crash < crashes && Date.now() - started < 180_000; crash++) {
      kills++;
      let writing = true;
      const writers = Array.from({ length: 8 }, async () => {
        while (writing) {
          try {
            const res = await client.createPayment({ amount: 1200n, currency: "USD" }, { timeoutMs: 15_000 });
            acknowledged.add(res.payment!.id);
          } catch {
            // Cut by the kill: not acknowledged, so nothing is owed.
          }
        }
      });
      // Killed once writes flow, at a random point: after 10 to 30 more acknowledgements.
      const target = acknowledged.size + 10 + Math.floor(Math.random() * 20);
      const giveUp = Date.now() + 60_000;
      while (acknowledged.size < target && Date.now() < giveUp) await sleep(20);
      writing = false;
      await killHard(product.child);
      await Promise.all(writers);
      try {
        product = await startProduct(port, env);
      } catch (err) {
        openFailure = err;
        break;
      }
      const stored = await storedIds();
      missingAfter.push([...acknowledged].filter((id) => !stored.has(id)).length);
    }
    await killHard(product.child);

    const lost = missingAfter.reduce((a, b) => a + b, 0);
    recordReliability({
      suite: "chaos-pglite-kill",
      source: "test/chaos/pglite-kill.test.ts",
      durationMs: Date.now() - started,
      rows: [
        {
          check: "embedded PGlite killed with SIGKILL mid-write, then reopened",
          tried: `${acknowledged.size} acknowledged payments over ${kills} kills`,
          expected: "opens every time, 0 acknowledged payments lost",
          found: `opened ${missingAfter.length} of ${kills} times, ${lost} lost`,
          ok: lost === 0 && !openFailure,
        },
      ],
    });

    expect(openFailure).toBeUndefined();
    expect(acknowledged.size).toBeGreaterThan(30);
    expect(kills).toBeGreaterThanOrEqual(2);
    expect(missingAfter).toEqual(Array.from({ length: kills }, () => 0));
  }, 280_000);
});
