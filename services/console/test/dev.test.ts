import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createApiKey } from "@onerouter/admin";
import { createOneRouterClient, type OneRouterClient } from "@onerouter/client";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { MessageStatus } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { AttemptStatus } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { createLogger, loadConfig } from "@onerouter/core";
import { devConfigDefaults, startDev, type DevEnvironment } from "@onerouter/server";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addTestMember } from "./members";
import { checkPage, ensureConsoleBuilt, launchChromium, openPage, signInAs } from "./index";

// The console over `onerouter dev`, as a newcomer meets it: real provider
// SDKs against their emulators, a provider stopped from the dev control
// server, a carrier's delivery callback, and a teammate invited.

const owner = { email: "owner@example.com", password: "a long console password" };
const teammate = { email: "dev@example.com", password: "another long password" };
const tokens = { stripe: "pm_card_visa", razorpay: "tok_success", paypal: "tok_paypal_success", sandbox: "tok_sandbox_success" };

describe("the console over onerouter dev", () => {
  let dev: DevEnvironment;
  let dataDir: string;
  let baseUrl: string;
  let browser: Browser;
  let api: OneRouterClient;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), "onerouter-console-dev-"));
    const config = loadConfig({ ...devConfigDefaults, PORT: "0", HOST: "127.0.0.1", ONEROUTER_DATA_DIR: dataDir, LOG_LEVEL: "silent" });
    [dev, browser] = await Promise.all([
      ensureConsoleBuilt().then(() => startDev(config, createLogger("silent"), { basePort: 0 })),
      launchChromium(),
    ]);
    baseUrl = `http://127.0.0.1:${dev.app.server.port}`;
    await addTestMember(dev.app, { ...owner, role: "owner" });
    const { secret } = await createApiKey(dev.app.db.knex, { tenantId: dev.app.defaultTenantId, environment: Environment.TEST, name: "console dev test", createdBy: "test" });
    api = createOneRouterClient({ baseUrl, apiKey: secret });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await dev?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const open = (page: Page, at: string, heading: string | RegExp) => openPage(page, baseUrl, at, heading);
  const emulatorFailure = (provider: string, mode: "down" | "none") =>
    fetch(`${dev.controlUrl}/emulators/${provider}/failure`, { method: "POST", body: JSON.stringify({ mode }) });

  it("shows the failover in a payment's attempt timeline when a provider's emulator is stopped, and counts it on the overview", async () => {
    expect((await emulatorFailure("stripe", "down")).status).toBe(200);
    let paymentId: string;
    try {
      const { payment } = await api.payments.createPayment({ amount: 1200n, currency: "USD", paymentMethod: { providerTokens: tokens } });
      expect(payment!.attempts.map((a) => [a.provider, a.status])).toEqual([
        ["stripe", AttemptStatus.FAILED],
        ["razorpay", AttemptStatus.SUCCEEDED],
      ]);
      paymentId = payment!.id;
    } finally {
      await emulatorFailure("stripe", "none");
    }
    const { context, page, errors } = await signInAs(browser, baseUrl, owner);
    await open(page, `/test/payments/${paymentId}`, `Payment ${paymentId}`);
    const timeline = page.getByRole("list", { name: "Attempts" });
    const attempts = timeline.getByRole("listitem");
    // The page shows its heading while the payment is still loading.
    await expect.poll(() => attempts.count()).toBe(2);
    expect(await attempts.nth(0).textContent()).toMatch(/^stripe\s*failed/);
    expect(await attempts.nth(0).locator(".failover").textContent()).toMatch(/^Failed over to razorpay: ./);
    expect(await attempts.nth(1).textContent()).toMatch(/^razorpay\s*succeeded/);
    expect(await attempts.nth(1).locator(".failover").count()).toBe(0);
    await checkPage(page, "payment-failover");

    // The overview counts it, and charts the providers' calls with units and a legend.
    await open(page, "/test/", "Overview");
    const failovers = page.locator(".stat", { hasText: "Failovers" }).locator("strong");
    await expect.poll(async () => Number(await failovers.textContent()), { timeout: 10_000 }).toBeGreaterThan(0);
    const latency = page.getByRole("figure", { name: "Latency p95 by provider" });
    expect(await latency.getByRole("list").textContent()).toContain("razorpay");
    expect(await latency.locator("th").first().textContent()).toBe("Time (UTC)");
    await latency.locator("canvas").waitFor();
    await checkPage(page, "overview-after-failover");
    expect(errors).toEqual([]);
    await context.close();
  }, 90_000);

  it("shows a message's delivery reported by the provider's callback", async () => {
    const { message } = await api.messaging.sendMessage({ content: { case: "sms", value: { to: "+14155550100", body: "Your code is 1234" } } });
    expect((await fetch(`${dev.controlUrl}/emulators/${message!.provider}/deliver`, { method: "POST", body: JSON.stringify({ id: message!.providerMessageId }) })).status).toBe(200);
    await expect.poll(async () => (await api.messaging.getMessage({ id: message!.id })).message!.status, { timeout: 10_000 }).toBe(MessageStatus.DELIVERED);

    const { context, page, errors } = await signInAs(browser, baseUrl, owner);
    await open(page, "/test/messages", "Messages");
    await page.getByRole("link", { name: message!.id }).click();
    await page.getByRole("heading", { level: 1, name: `Message ${message!.id}` }).waitFor();
    const delivered = page.locator("dt", { hasText: "Delivered (provider's callback)" }).locator("xpath=following-sibling::dd[1]");
    expect(await delivered.textContent()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    expect(await page.locator(".facts").first().textContent()).toContain("delivered");
    await checkPage(page, "message");
    expect(errors).toEqual([]);
    await context.close();
  }, 90_000);

  it("invites a teammate who accepts and signs in with their role; the owner changes the plan, and both see usage against its limits", async () => {
    const { context, page, errors } = await signInAs(browser, baseUrl, owner);
    await open(page, "/test/team", "Team");
    const invite = page.getByRole("form", { name: "Invite a member" });
    await invite.getByLabel("Email").fill(teammate.email);
    await invite.getByLabel("Role").selectOption({ label: "developer" });
    await invite.getByRole("button", { name: "Invite" }).click();
    const link = (await invite.locator("code").textContent())!;
    expect(link).toMatch(/\/console\/accept-invitation\?token=/);
    await page.getByRole("cell", { name: teammate.email }).waitFor();
    await checkPage(page, "team-invited");

    // The owner moves to a plan with limits, after a confirmation; usage then fills bars.
    await open(page, "/test/usage", "Plan and usage");
    await page.getByLabel("Change plan").selectOption({ label: "Pro" });
    await page.getByRole("dialog", { name: "Move to the Pro plan?" }).getByRole("button", { name: "Move to Pro" }).click();
    await page.getByText("Plan: Pro").waitFor();
    await page.locator(".meters progress").first().waitFor();
    await checkPage(page, "usage-owner");
    expect(errors).toEqual([]);
    await context.close();

    // The invitee opens the link in a browser of their own.
    const invited = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const landing = await invited.newPage();
    await landing.goto(link);
    await landing.getByLabel("Your name").fill("Dev Eloper");
    await landing.getByLabel(/Password/).fill(teammate.password);
    await landing.getByRole("button", { name: "Accept invitation" }).click();
    await landing.getByRole("heading", { name: "Welcome, Dev Eloper" }).waitFor();
    await checkPage(landing, "accept-invitation-done");
    await invited.close();

    const joined = await signInAs(browser, baseUrl, teammate);
    expect(await joined.page.locator(".who").textContent()).toContain("(developer)");
    await open(joined.page, "/test/team", "Team");
    await joined.page.getByRole("cell", { name: owner.email }).waitFor();
    // Among the members by the name they chose (the accepted invitation is listed too, by email).
    expect(await joined.page.getByRole("cell", { name: "Dev Eloper" }).count()).toBe(1);
    // Inviting and removing members is an admin's: a developer is offered neither.
    expect(await joined.page.getByRole("form", { name: "Invite a member" }).count()).toBe(0);
    expect(await joined.page.getByRole("button", { name: "Remove" }).count()).toBe(0);

    await open(joined.page, "/test/usage", "Plan and usage");
    await joined.page.locator(".meters progress").first().waitFor();
    expect(await joined.page.locator(".meters").textContent()).toContain("members: 2 of 5");
    // Only an owner changes the plan.
    expect(await joined.page.getByLabel("Change plan").count()).toBe(0);
    expect(joined.errors).toEqual([]);
    await joined.context.close();
  }, 90_000);
});

