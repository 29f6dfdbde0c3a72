import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import {
  AttemptStatus,
  CaptureMethod,
  PaymentService,
  PaymentStatus,
} from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { createApiKey } from "@onerouter/admin";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { verifyWebhook } from "@onerouter/client";
import { WebhookService } from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import { MessageStatus, MessagingService } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { createLogger, loadConfig } from "@onerouter/core";
import { findExecutable } from "../../../test/infra";
import { cliPath } from "../test/cli";
import { devBanner, devConfigDefaults, startDev, type DevEnvironment } from "./dev";

// What the README promises of `onerouter dev`: a payment through each
// provider, captured and refunded, the providers' signed webhooks arriving,
// and a failover when the primary's emulator is stopped.

const tokens = {
  stripe: "pm_card_visa",
  razorpay: "tok_success",
  paypal: "tok_paypal_success",
  sandbox: "tok_sandbox_success",
};

describe("onerouter dev", () => {
  let dev: DevEnvironment;
  let dataDir: string;
  let payments: ReturnType<typeof createClient<typeof PaymentService>>;
  let webhooks: ReturnType<typeof createClient<typeof WebhookService>>;
  let messaging: ReturnType<typeof createClient<typeof MessagingService>>;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), "onerouter-dev-"));
    const config = loadConfig({ ...devConfigDefaults, PORT: "0", HOST: "127.0.0.1", ONEROUTER_DATA_DIR: dataDir, LOG_LEVEL: "silent" });
    dev = await startDev(config, createLogger("silent"), { basePort: 0 });
    const { secret } = await createApiKey(dev.app.db.knex, {
      tenantId: dev.app.defaultTenantId,
      environment: Environment.TEST,
      name: "dev test",
      createdBy: "test",
    });
    const transport = createConnectTransport({
      baseUrl: `http://127.0.0.1:${dev.app.server.port}`,
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${secret}`);
          return next(req);
        },
      ],
    });
    payments = createClient(PaymentService, transport);
    webhooks = createClient(WebhookService, transport);
    messaging = createClient(MessagingService, transport);
  });
  afterAll(async () => {
    await dev?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function inboundWebhooks(accountId: string): Promise<number> {
    const rows = await dev.app.db.knex("inbound_provider_events").where({ provider_account_id: accountId });
    return rows.length;
  }

  async function eventually(check: () => Promise<boolean>, what: string) {
    const deadline = Date.now() + 15_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it.each([
    ["stripe", "USD", 2500n],
    ["razorpay", "INR", 50000n],
    ["paypal", "EUR", 1999n],
  ] as const)("takes, captures and refunds a payment through %s", async (provider, currency, amount) => {
    const { payment } = await payments.createPayment({
      amount,
      currency,
      captureMethod: CaptureMethod.MANUAL,
      paymentMethod: { providerTokens: tokens },
    });
    expect(payment).toMatchObject({ status: PaymentStatus.REQUIRES_CAPTURE, provider, providerAccountId: dev.accountIds[provider] });
    const captured = await payments.capturePayment({ id: payment!.id });
    expect(captured.payment).toMatchObject({ status: PaymentStatus.SUCCEEDED, amountCaptured: amount });
    const refunded = await payments.refundPayment({ paymentId: payment!.id, amount: amount / 2n });
    expect(refunded.payment?.amountRefunded).toBe(amount / 2n);
    // The provider's own signed webhooks reach the per-account URL and verify.
    await eventually(async () => (await inboundWebhooks(dev.accountIds[provider]!)) > 0, `${provider} webhooks`);
  });

  it("fails over to Razorpay while Stripe's emulator is down, and back when it returns", async () => {
    const stop = await fetch(`${dev.controlUrl}/emulators/stripe/failure`, { method: "POST", body: '{"mode":"down"}' });
    expect(stop.status).toBe(200);
    try {
      const { payment } = await payments.createPayment({ amount: 1200n, currency: "USD", paymentMethod: { providerTokens: tokens } });
      expect(payment).toMatchObject({ status: PaymentStatus.SUCCEEDED, provider: "razorpay" });
      expect(payment!.attempts.map((a) => [a.provider, a.status])).toEqual([
        ["stripe", AttemptStatus.FAILED],
        ["razorpay", AttemptStatus.SUCCEEDED],
      ]);
    } finally {
      await fetch(`${dev.controlUrl}/emulators/stripe/failure`, { method: "POST", body: '{"mode":"none"}' });
    }
    const { payment } = await payments.createPayment({ amount: 1300n, currency: "USD", paymentMethod: { providerTokens: tokens } });
    expect(payment?.provider).toBe("stripe");
  });

  it("delivers a signed payment.succeeded to an endpoint on this machine, and resends it with the same webhook-id", async () => {
    const received: { body: string; headers: Record<string, string> }[] = [];
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({ body: Buffer.concat(chunks).toString("utf8"), headers: req.headers as Record<string, string> });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/onerouter`;
      const { endpoint, secret } = await webhooks.createEndpoint({ url, eventTypes: ["payment.succeeded"] });
      const { payment } = await payments.createPayment({
        amount: 4200n,
        currency: "USD",
        paymentMethod: { providerTokens: { sandbox: "tok_sandbox_success" } },
      });
      expect(payment).toMatchObject({ status: PaymentStatus.SUCCEEDED, provider: "sandbox" });
      await eventually(async () => received.length > 0, "the payment.succeeded delivery");
      const event = await verifyWebhook(received[0]!.body, received[0]!.headers, secret);
      expect(event.type).toBe("payment.succeeded");
      expect(event.data.case === "payment" && event.data.value.payment?.id).toBe(payment!.id);
      await expect(verifyWebhook(received[0]!.body.replace("4200", "4201"), received[0]!.headers, secret)).rejects.toThrow();

      await webhooks.resendEvent({ eventId: event.id, endpointId: endpoint!.id });
      await eventually(async () => received.length > 1, "the resent delivery");
      expect(received[1]!.headers["webhook-id"]).toBe(received[0]!.headers["webhook-id"]);
      expect(received.every((r) => JSON.parse(r.body).type === "payment.succeeded")).toBe(true);
    } finally {
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });

  async function reportDelivery(provider: string, id: string) {
    const res = await fetch(`${dev.controlUrl}/emulators/${provider}/deliver`, { method: "POST", body: JSON.stringify({ id }) });
    expect(res.status).toBe(200);
  }

  async function delivered(messageId: string) {
    await eventually(
      async () => (await messaging.getMessage({ id: messageId })).message?.status === MessageStatus.DELIVERED,
      `message ${messageId} delivered`,
    );
  }

  it("sends SMS through the cheaper provider per country, with delivery reported by the provider's signed callback", async () => {
    const received: string[] = [];
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push(Buffer.concat(chunks).toString("utf8"));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/messages`;
      const { secret } = await webhooks.createEndpoint({ url, eventTypes: ["message.delivered"] });
      const us = (await messaging.sendMessage({ content: { case: "sms", value: { to: "+14155550100", body: "Your code is 1234" } } })).message!;
      const india = (await messaging.sendMessage({ content: { case: "sms", value: { to: "+919876543210", body: "Your code is 5678" } } })).message!;
      expect([us.provider, india.provider]).toEqual(["twilio", "vonage"]);
      expect(us.priceMicros).toBeGreaterThan(0n);
      await reportDelivery("twilio", us.providerMessageId);
      await reportDelivery("vonage", india.providerMessageId);
      await delivered(us.id);
      await delivered(india.id);
      await eventually(async () => received.length >= 2, "two message.delivered events");
      for (const body of received) expect(JSON.parse(body).type).toBe("message.delivered");
      expect(secret).toMatch(/^whsec_/);
    } finally {
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });

  it("sends email through either provider, failing over when one is down", async () => {
    const email = () =>
      messaging.sendMessage({
        content: {
          case: "email",
          value: { from: { email: "shop@example.com" }, to: [{ email: "buyer@example.com" }], subject: "Receipt", text: "Thanks!" },
        },
      });
    const first = (await email()).message!;
    expect(["sendgrid", "mailgun"]).toContain(first.provider);
    const other = first.provider === "sendgrid" ? "mailgun" : "sendgrid";
    await reportDelivery(first.provider, first.providerMessageId);
    await delivered(first.id);
    await fetch(`${dev.controlUrl}/emulators/${first.provider}/failure`, { method: "POST", body: '{"mode":"down"}' });
    try {
      const second = (await email()).message!;
      expect(second.provider).toBe(other);
      await reportDelivery(other, second.providerMessageId);
      await delivered(second.id);
    } finally {
      await fetch(`${dev.controlUrl}/emulators/${first.provider}/failure`, { method: "POST", body: '{"mode":"none"}' });
    }
  });

  it("runs every command of the README and of its banner as printed", async () => {
    const api = `http://127.0.0.1:${dev.app.server.port}`;
    const cwd = mkdtempSync(path.join(os.tmpdir(), "onerouter-readme-"));
    let key = "";
    // A block pasted into a terminal whose $KEY holds the key made so far.
    const run = (script: string) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const command = script.replaceAll("localhost:8080", api.replace("http://", "")).replace(/\bnpx onerouter\b/g, `${process.execPath} ${cliPath}`);
        const child = spawn("bash", ["-c", `set -e\n${command}\nprintf '\\n%s' "$KEY"`], {
          cwd,
          env: { ...process.env, KEY: key, ONEROUTER_DATA_DIR: dataDir, LOG_LEVEL: "warn" },
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        child.once("exit", (status) => {
          const lines = stdout.split("\n");
          key = lines.pop() ?? "";
          resolve({ status, stdout: lines.join("\n"), stderr });
        });
      });
    // What an API call printed: its JSON answer, never an error.
    const answered = (result: { status: number | null; stdout: string; stderr: string }, command: string) => {
      expect(result.status, `${command}\n${result.stderr}`).toBe(0);
      // curl prints each answer without a newline after it.
      const answers = result.stdout
        .replace(/}\s*{/g, "}\n{")
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      for (const answer of answers) expect(answer, command).not.toHaveProperty("code");
      return answers.at(-1) as { payment?: { status: string; provider: string }; message?: { id: string } } | undefined;
    };
    try {
      const readme = readFileSync(path.join(import.meta.dirname, "../../../README.md"), "utf8");
      const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());
      // What only a terminal of its own runs: installing, the test suite, a server.
      const serverCommands = blocks.filter((b) => /^(npm (ci|test|start)\b|npx onerouter (start|dev)$)/.test(b));
      expect(serverCommands.map((b) => b.split(/\s+/).slice(0, 3).join(" "))).toEqual(["npm ci &&", "npx onerouter dev"]);
      // The console's sign-in needs its owner, made as the README says.
      const owner = await new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, [cliPath, "members", "create", "--email", "you@example.com", "--role", "owner"], {
          env: { ...process.env, ONEROUTER_DATA_DIR: dataDir, LOG_LEVEL: "warn" },
        });
        child.stdin.end("correct horse battery staple\n");
        child.once("exit", resolve);
      });
      expect(owner).toBe(0);
      // A tool the README names but this machine lacks (grpcurl) is left out.
      const runnable = blocks.filter((b) => !serverCommands.includes(b) && findExecutable(b.split(/\s/)[0]!));
      for (const block of runnable) {
        const script = block.replace("KEY=or_test_...", `KEY=${key}`).replace('"password":"..."', '"password":"correct horse battery staple"');
        const result = await run(script);
        const answer = answered(result, block);
        if (block.includes("keys create")) key = result.stdout.trim().split("\n").at(-1)!;
        if (block.includes("CreatePayment")) expect(answer?.payment?.status).toBe("PAYMENT_STATUS_SUCCEEDED");
        if (block.includes("payments.csv")) expect(readFileSync(path.join(cwd, "payments.csv"), "utf8")).toMatch(/^id,create_time,/);
      }
      expect(key).toMatch(/^or_test_/);

      // The banner's commands, one at a time as a newcomer pastes them.
      key = "";
      const commands = devBanner(dev)
        .split("\n\n")[1]!
        .replace(/\\\n/g, "")
        .split("\n")
        .filter((line) => !line.startsWith("#"));
      expect(commands).toHaveLength(6);
      let messageId = "";
      for (const command of commands) {
        const answer = answered(await run(command), command);
        if (command.includes("CreatePayment")) expect(answer?.payment).toMatchObject({ status: "PAYMENT_STATUS_SUCCEEDED", provider: "stripe" });
        if (command.includes('"down"')) {
          // "then pay again": the next provider serves it.
          const again = answered(await run(commands.find((c) => c.includes("CreatePayment"))!), "pay again");
          expect(again?.payment?.provider).toBe("razorpay");
        }
        if (command.includes("SendMessage")) messageId = answer!.message!.id;
        // The delivery report finds the message the banner's SMS sent.
        if (command.includes("/deliver")) await delivered(messageId);
      }
      expect(key).toMatch(/^or_test_/);
      expect(messageId).not.toBe("");
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  }, 300_000);
});
