import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ApiKeyService } from "@onerouter/client/gen/onerouter/admin/v1/api_keys_pb";
import { ProviderAccountService } from "@onerouter/client/gen/onerouter/admin/v1/provider_accounts_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { PaymentService } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { WebhookService } from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import { newSandboxApiKey } from "@onerouter/sandbox";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../infra";
import { recordReliability } from "../reliability/record";
import { createKeyWithCli } from "./support/cli";
import { chaosClient, withKey } from "./support/crash-loop";
import { killAllChildren, startProduct } from "./support/processes";
import { startFlakyReceiver } from "./support/receiver";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The product at LOG_LEVEL=trace through the paths that handle secrets: API
// keys made and used (and a wrong one tried), provider accounts made with
// credentials and tested (one failing), payments, a webhook endpoint made and
// delivered to. No API key, credential, webhook secret or master key may
// appear anywhere in what it logged.
describe("secrets in trace-level logs", () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "onerouter-chaos-logs-"));
  afterAll(async () => {
    await killAllChildren();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("logs none of them", async () => {
    const started = Date.now();
    const env = { ONEROUTER_DATA_DIR: dataDir, ONEROUTER_WEBHOOK_ALLOWED_CIDRS: "127.0.0.0/8" };
    const product = await startProduct(await freePort(), { ...env, LOG_LEVEL: "trace" }, { keepOutputChars: 50_000_000 });
    const secrets = new Map<string, string>();

    const cliKey = await createKeyWithCli(env);
    secrets.set("API key from the CLI", cliKey);
    const made = await chaosClient(product.baseUrl, ApiKeyService, cliKey).createApiKey({ name: "second", environment: Environment.TEST });
    secrets.set("API key from CreateApiKey", made.secret);

    const accounts = chaosClient(product.baseUrl, ProviderAccountService, cliKey);
    const goodKey = newSandboxApiKey();
    const failingKey = newSandboxApiKey();
    secrets.set("sandbox api_key", goodKey);
    secrets.set("sandbox api_key of a failing account", failingKey);
    const good = await accounts.createProviderAccount({ provider: "sandbox", displayName: "good", credentials: { api_key: goodKey } });
    const failing = await accounts.createProviderAccount({
      provider: "sandbox",
      displayName: "failing",
      credentials: { api_key: failingKey },
      settings: { failure_rate: "1" },
    });
    await accounts.testProviderAccount({ id: good.providerAccount!.id });
    await accounts.testProviderAccount({ id: failing.providerAccount!.id }).catch(() => undefined);

    let endpointSecret = "";
    const receiver = await startFlakyReceiver(() => endpointSecret);
    const endpoint = await chaosClient(product.baseUrl, WebhookService, cliKey).createEndpoint({ url: receiver.url, eventTypes: ["payment.*"] });
    endpointSecret = endpoint.secret;
    secrets.set("webhook endpoint secret", endpoint.secret);
    secrets.set("webhook endpoint secret without its prefix", endpoint.secret.replace(/^whsec_/, ""));

    const payments = chaosClient(product.baseUrl, PaymentService, cliKey);
    for (let i = 0; i < 5; i++) await payments.createPayment({ amount: 1500n, currency: "USD" }, withKey(`scan-${i}`));
    const wrongKey = `or_test_${randomBytes(24).toString("base64url")}`;
    secrets.set("unknown API key", wrongKey);
    await chaosClient(product.baseUrl, PaymentService, wrongKey).listPayments({}).catch(() => undefined);

    const deadline = Date.now() + 30_000;
    while (receiver.verified.size < 10 && Date.now() < deadline) await sleep(100);
    await receiver.close();

    const masterKey = readFileSync(path.join(dataDir, "master.key"), "utf8").trim();
    secrets.set("master key (base64)", masterKey);
    secrets.set("master key (hex)", Buffer.from(masterKey, "base64").toString("hex"));

    const logs = product.output();
    const lines = logs.split("\n").filter((l) => l.trim() !== "").length;
    const found = [...secrets].filter(([, value]) => logs.includes(value)).map(([name]) => name);
    recordReliability({
      suite: "secret-scan",
      source: "test/chaos/secret-scan.test.ts",
      durationMs: Date.now() - started,
      rows: [
        {
          check: "secrets in the logs at LOG_LEVEL=trace (keys, provider credentials, webhook secret, master key)",
          tried: `${secrets.size} secrets over ${lines} log lines, ${receiver.verified.size} webhook deliveries`,
          expected: "0 secrets in the logs",
          found: found.length === 0 ? "0 secrets in the logs" : `found: ${found.join(", ")}`,
          ok: found.length === 0,
        },
      ],
    });

    expect(receiver.verified.size, "webhook deliveries made").toBeGreaterThanOrEqual(10);
    expect(lines).toBeGreaterThan(0);
    expect(found).toEqual([]);
  }, 240_000);
});
