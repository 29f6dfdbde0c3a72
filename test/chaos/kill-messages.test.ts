import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { MessageStatus, MessagingService, type Message } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { createTestDatabaseUrl, postgresAvailable } from "@onerouter/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../infra";
import { recordReliability } from "../reliability/record";
import { chaosClient, runCrashLoop, withKey } from "./support/crash-loop";
import { killAllChildren, killHard, startProduct, startSandboxProcess, type ProductProcess } from "./support/processes";
import { countsAbove, describeCounts } from "./support/tally";
import { chaosTenant, productEnv, type ChaosTenant } from "./support/tenant";

// `onerouter start` on Postgres, killed with SIGKILL while it sends SMS
// through a sandbox provider in another process; every Idempotency-Key is
// retried until it gets an answer. A key must end with one message at the
// provider and one message in OneRouter that the provider took.
describe.skipIf(!postgresAvailable())("kill -9 during SendMessage", () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "onerouter-chaos-msg-"));
  let tenant: ChaosTenant | undefined;

  afterAll(async () => {
    await killAllChildren();
    await tenant?.db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("sends each Idempotency-Key's message exactly once across crashes", async () => {
    const started = Date.now();
    const sandbox = await startSandboxProcess();
    const databaseUrl = await createTestDatabaseUrl();
    // The provider takes a while, so kills land between its send and the product's record of it.
    tenant = await chaosTenant(databaseUrl, sandbox.url, { added_latency_ms: "120" });
    const port = await freePort();
    const crashes = 4;
    let product: ProductProcess | undefined;
    const client = chaosClient(`http://127.0.0.1:${port}`, MessagingService, tenant.secret);

    const run = await runCrashLoop<Message>({
      product: {
        start: async () => {
          product = await startProduct(port, productEnv(databaseUrl, dataDir, sandbox.url));
        },
        kill: () => killHard(product!.child),
      },
      crashes,
      concurrency: 70,
      answersBeforeKill: [10, 30],
      settleTimeoutMs: 75_000,
      budgetMs: 250_000,
      call: async (key) => {
        // The text carries the key, so the sandbox can count messages per key.
        const res = await client.sendMessage(
          { content: { case: "sms", value: { to: "+14155550100", body: key } }, metadata: { chaos_key: key } },
          withKey(key),
        );
        return res.message!;
      },
    });

    const sent = (await sandbox.counts()).messages;
    const taken = (await tenant.db
      .knex("messages")
      .where({ tenant_id: tenant.tenantId })
      .whereNot({ provider_message_id: "" })
      .select(tenant.db.knex.raw("metadata->>'chaos_key' as key"), "id")) as { key: string; id: string }[];
    const takenByKey = new Map<string, string[]>();
    for (const row of taken) takenByKey.set(row.key, [...(takenByKey.get(row.key) ?? []), row.id]);

    const doubleSends = countsAbove(run.keys, (key) => sent[key] ?? 0, 1);
    const missingSends = run.keys.filter((key) => run.answers.has(key) && (sent[key] ?? 0) === 0);
    const doubleMessages = countsAbove(run.keys, (key) => takenByKey.get(key)?.length ?? 0, 1);
    const failed = [...run.answers].filter(([, m]) => m.status === MessageStatus.FAILED || m.status === MessageStatus.UNSPECIFIED);
    const answeredOther = [...run.answers].filter(([key, m]) => {
      const ids = takenByKey.get(key) ?? [];
      return ids.length > 0 && !ids.includes(m.id);
    });
    const tried = `${run.keys.length} keys, ${run.interrupted.size} cut by ${run.crashes} kill -9s`;
    const settle = `${(run.longestSettleMs / 1000).toFixed(1)} s`;
    recordReliability({
      suite: "chaos-kill-messages",
      source: "test/chaos/kill-messages.test.ts",
      durationMs: Date.now() - started,
      rows: [
        {
          check: "kill -9 during SendMessage (Postgres), then retry every Idempotency-Key: messages at the provider",
          tried,
          expected: "0 messages sent twice",
          found: describeCounts(doubleSends, "key") + " sent twice or more",
          ok: doubleSends.length === 0,
        },
        {
          check: "kill -9 during SendMessage (Postgres), then retry: messages the provider took, per key",
          tried,
          expected: "exactly 1 per key",
          found: `${describeCounts(doubleMessages, "key")} with more than 1, ${failed.length} answered FAILED`,
          ok: doubleMessages.length === 0 && failed.length === 0,
        },
        {
          check: "kill -9 during SendMessage (Postgres), then retry: every key answered",
          tried,
          expected: "all answered, none refused",
          found: `${run.unanswered.length} unanswered, ${run.refused.size} refused; the last answered ${settle} after the restart (${run.inUseAnswers} IDEMPOTENCY_KEY_IN_USE on the way)`,
          ok: run.unanswered.length === 0 && run.refused.size === 0,
        },
      ],
    });

    expect(run.interrupted.size).toBeGreaterThanOrEqual(200);
    expect(run.unanswered).toEqual([]);
    expect([...run.refused].map(([key, err]) => `${key}: ${err.message}`)).toEqual([]);
    expect(doubleSends, "keys sent more than once at the provider").toEqual([]);
    expect(missingSends, "answered keys the provider never took").toEqual([]);
    expect(doubleMessages, "keys with more than one message the provider took").toEqual([]);
    expect(failed.map(([key]) => key)).toEqual([]);
    expect(answeredOther.map(([key]) => key), "keys answered with a message other than their sent one").toEqual([]);
  }, 295_000);
});
