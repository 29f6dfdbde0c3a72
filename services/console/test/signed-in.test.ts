import http from "node:http";
import type { AddressInfo } from "node:net";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { createOneRouterClient, type OneRouterClient } from "@onerouter/client";
import { Category, Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { RoutingStrategy } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { SessionService } from "@onerouter/client/gen/onerouter/admin/v1/session_pb";
import { CaptureMethod, PaymentStatus } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { newSandboxApiKey, startSandboxProvider, type RunningSandbox } from "@onerouter/sandbox";
import { startTestOneRouter, type TestOneRouter } from "@onerouter/server/testing";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addTestMember } from "./members";
import { checkPage, ensureConsoleBuilt, launchChromium, openPage, saveScreenshot, seriousAccessibilityViolations, signInAs } from "./index";

// A member's day in the console, in Debian's Chromium against the whole
// product: everything it shows was made through the public API, and what
// it does is checked through the API too.

const ownerEmail = "owner@example.com";
const viewerEmail = "viewer@example.com";
const password = "a long console password";

describe("the console signed in", () => {
  let app: TestOneRouter;
  let browser: Browser;
  let api: OneRouterClient;
  let liveApi: OneRouterClient;
  let primary: RunningSandbox;
  let secondary: RunningSandbox;
  let receiver: http.Server;
  const received: string[] = [];
  let receiverUrl = "";

  beforeAll(async () => {
    await ensureConsoleBuilt();
    [primary, secondary] = await Promise.all([startSandboxProvider(), startSandboxProvider()]);
    [app, browser] = await Promise.all([
      startTestOneRouter({
        env: {
          ONEROUTER_WEBHOOK_ALLOWED_CIDRS: "127.0.0.0/8",
          // The two sandboxes the routing test routes between.
          ONEROUTER_PROVIDER_BASE_URLS: `${primary.url},${secondary.url}`,
        },
      }),
      launchChromium(),
    ]);
    await addTestMember(app, { email: ownerEmail, password, role: "owner" });
    await addTestMember(app, { email: viewerEmail, password, role: "viewer" });
    api = createOneRouterClient({ baseUrl: app.baseUrl, apiKey: (await app.createKey(Environment.TEST)).secret });
    liveApi = createOneRouterClient({ baseUrl: app.baseUrl, apiKey: (await app.createKey(Environment.LIVE)).secret });
    receiver = http.createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        received.push(body);
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("thanks");
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await primary?.close();
    await secondary?.close();
    receiver?.close();
  });

  const signedIn = (email: string) => signInAs(browser, app.baseUrl, { email, password });
  const open = (page: Page, path: string, heading: string | RegExp) => openPage(page, app.baseUrl, path, heading);

  it("signs in, shows who is signed in, and signs out again", async () => {
    const { context, page, errors } = await signedIn(ownerEmail);
    expect(new URL(page.url()).pathname).toBe("/console/test/");
    expect(await page.locator(".who").textContent()).toContain(ownerEmail);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in to OneRouter" }).waitFor();
    // The session is gone on the server too: a page of the console sends back to sign-in.
    await page.goto(`${app.baseUrl}/console/test/api-keys`);
    await page.getByRole("heading", { name: "Sign in to OneRouter" }).waitFor();
    expect(errors).toEqual([]);
    await context.close();
  });

  it("creates an API key and shows its secret once", async () => {
    const { context, page, errors } = await signedIn(ownerEmail);
    await open(page, "/test/api-keys", "API keys");
    await page.getByLabel("Name").fill("checkout backend");
    await page.getByRole("button", { name: "Create test key" }).click();
    const secret = (await page.getByTestId("new-key-secret").textContent())!.trim();
    expect(secret).toMatch(/^or_test_/);
    await checkPage(page, "api-keys-created");
    // The secret is a working key of this tenant.
    const whoAmI = await createClient(SessionService, createConnectTransport({ baseUrl: app.baseUrl, interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${secret}`), next(req))] })).whoAmI({});
    expect(whoAmI.tenantId).toBe(app.defaultTenantId);
    // Never shown again: after a reload only its name and prefix are listed.
    await page.reload();
    await page.getByRole("cell", { name: "checkout backend" }).waitFor();
    expect(await page.getByTestId("new-key-secret").count()).toBe(0);
    expect(await page.content()).not.toContain(secret);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("finds a payment made with the client, by list and by id", async () => {
    const { payment } = await api.payments.createPayment({ amount: 2500n, currency: "EUR", description: "console test" });
    const { context, page, errors } = await signedIn(ownerEmail);
    await open(page, "/test/payments", "Payments");
    await page.getByRole("link", { name: payment!.id }).waitFor();
    await checkPage(page, "payments");
    // Filters live in the URL, so the filtered view can be bookmarked.
    await page.getByLabel("Status").selectOption({ label: "failed" });
    await page.getByText("No payments match these filters.").waitFor();
    expect(new URL(page.url()).searchParams.get("status")).toBe(String(PaymentStatus.FAILED));
    await page.goto(`${app.baseUrl}/console/test/payments?status=${PaymentStatus.SUCCEEDED}`);
    await page.getByRole("link", { name: payment!.id }).waitFor();
    expect(await page.getByLabel("Status").inputValue()).toBe(String(PaymentStatus.SUCCEEDED));
    await page.getByLabel("Payment id").fill(payment!.id);
    await page.getByRole("button", { name: "Find" }).click();
    await page.getByRole("heading", { level: 1, name: `Payment ${payment!.id}` }).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/console/test/payments/${payment!.id}`);
    expect(await page.getByRole("list", { name: "Attempts" }).textContent()).toContain(payment!.attempts[0]!.id);
    await checkPage(page, "payment");
    expect(errors).toEqual([]);
    await context.close();
  });

  it("captures and refunds a payment only after a confirmation", async () => {
    const { payment } = await api.payments.createPayment({ amount: 4000n, currency: "EUR", captureMethod: CaptureMethod.MANUAL });
    expect(payment!.status).toBe(PaymentStatus.REQUIRES_CAPTURE);
    const { context, page, errors } = await signedIn(ownerEmail);
    await open(page, `/test/payments/${payment!.id}`, `Payment ${payment!.id}`);
    await page.getByRole("button", { name: "Capture" }).click();
    const dialog = page.getByRole("dialog", { name: "Capture this payment?" });
    // Cancelling the dialog leaves the money alone.
    await dialog.getByRole("button", { name: "Cancel" }).click();
    expect((await api.payments.getPayment({ id: payment!.id })).payment!.status).toBe(PaymentStatus.REQUIRES_CAPTURE);
    await page.getByRole("button", { name: "Capture" }).click();
    expect(await seriousAccessibilityViolations(page)).toEqual([]);
    await saveScreenshot(page, "payment-capture-confirm");
    await dialog.getByRole("button", { name: "Capture €40.00" }).click();
    await page.getByRole("button", { name: "Refund" }).waitFor();
    expect((await api.payments.getPayment({ id: payment!.id })).payment!.status).toBe(PaymentStatus.SUCCEEDED);

    await page.getByRole("button", { name: "Refund" }).click();
    const refund = page.getByRole("dialog", { name: "Refund this payment?" });
    await refund.getByLabel(/Amount/).fill("15.00");
    await refund.getByRole("button", { name: "Refund €15.00" }).click();
    await expect.poll(async () => (await api.payments.getPayment({ id: payment!.id })).payment!.amountRefunded).toBe(1500n);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("adds a provider account whose credentials never come back, tests it and disables it", async () => {
    const sandboxKey = newSandboxApiKey();
    const { context, page, errors } = await signedIn(ownerEmail);
    await open(page, "/test/provider-accounts", "Provider accounts");
    const form = page.getByRole("form", { name: "Add a provider account" });
    await form.getByLabel("Provider").fill("sandbox");
    await form.getByLabel("Display name").fill("console sandbox");
    await form.getByLabel(/Credentials/).fill(`api_key=${sandboxKey}`);
    await form.getByRole("button", { name: "Add account" }).click();
    const row = page.getByRole("row", { name: /console sandbox/ });
    await row.waitFor();
    expect(await page.content()).not.toContain(sandboxKey);
    await row.getByRole("button", { name: "Test" }).click();
    await page.getByText(/Test passed/).waitFor();
    await row.getByRole("button", { name: "Disable" }).click();
    await row.getByRole("button", { name: "Enable" }).waitFor();
    const { providerAccounts } = await api.providerAccounts.listProviderAccounts({ pageSize: 100 });
    expect(providerAccounts.find((a) => a.displayName === "console sandbox")?.enabled).toBe(false);
    await checkPage(page, "provider-accounts");
    expect(errors).toEqual([]);
    await context.close();
  });

  // (The failover itself is seen in the timeline in dev.test.ts, with a provider's emulator stopped.)
  it("previews where a payment would go under the routing being edited, and saves it", async () => {
    const account = (baseUrl: string, name: string) =>
      api.providerAccounts.createProviderAccount({ provider: "sandbox", displayName: name, credentials: { api_key: newSandboxApiKey() }, settings: { base_url: baseUrl } });
    const first = (await account(primary.url, "primary sandbox")).providerAccount!;
    const second = (await account(secondary.url, "secondary sandbox")).providerAccount!;
    await api.routing.updateRoutingProfile({
      routingProfile: { category: Category.PAYMENTS, strategy: RoutingStrategy.PRIORITY, targets: [{ providerAccountId: first.id }, { providerAccountId: second.id }] },
    });

    const { context, page, errors } = await signedIn(ownerEmail);
    await open(page, "/test/routing", "Routing");
    const preview = page.getByTestId("routing-preview");
    await page.getByLabel("Amount", { exact: true }).fill("25.00");
    expect(await preview.textContent()).toContain("A €25.00 payment from DE would go to primary sandbox (sandbox), then secondary sandbox (sandbox)");
    // A rule for euros, previewed before it is saved, then saved through the API.
    await page.getByLabel("Rule name").fill("euro");
    await page.getByLabel("Currencies").fill("EUR");
    await page.getByLabel("Rule accounts").selectOption(second.id);
    await page.getByRole("button", { name: "Add rule" }).click();
    await page.getByText("euro: currency EUR").waitFor();
    expect(await preview.textContent()).toContain('would go to secondary sandbox (sandbox), by rule "euro"');
    await page.getByLabel("Currency", { exact: true }).fill("USD");
    expect(await preview.textContent()).toContain("would go to primary sandbox (sandbox), then secondary sandbox (sandbox)");
    await checkPage(page, "routing");
    await page.getByRole("button", { name: "Save routing" }).click();
    await page.getByText("Saved.").waitFor();
    const saved = (await api.routing.getRoutingProfile({ category: Category.PAYMENTS })).routingProfile!;
    expect(saved.rules.map((r) => [r.name, r.condition?.currencies, r.targets.map((t) => t.providerAccountId)])).toEqual([["euro", ["EUR"], [second.id]]]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("creates a webhook endpoint and shows its delivery", async () => {
    const { context, page, errors } = await signedIn(ownerEmail);
    await open(page, "/test/webhooks", "Webhooks");
    await page.getByLabel("URL").fill(receiverUrl);
    await page.getByRole("button", { name: "Add endpoint" }).click();
    expect(await page.getByTestId("endpoint-secret").textContent()).toMatch(/^whsec_/);
    await page.getByRole("link", { name: receiverUrl }).click();
    await page.getByRole("heading", { level: 1, name: "Webhook endpoint" }).waitFor();
    await page.getByRole("button", { name: "Send a test event" }).click();
    await page.getByText(/Test event .* sent/).waitFor();
    // Delivery is asynchronous: reload until the attempt is listed.
    await expect.poll(async () => {
      await page.reload();
      await page.getByRole("heading", { name: "Delivery attempts" }).waitFor();
      return page.getByText("HTTP 200").count();
    }, { timeout: 20_000 }).toBeGreaterThan(0);
    expect(received.length).toBeGreaterThan(0);
    // The request it sent is the event's JSON body, as the receiver got it.
    const request = page.locator("details", { has: page.getByText("Request", { exact: true }) }).first();
    await request.getByText("Request", { exact: true }).click();
    // Fetched when opened: wait for the event, not the response body beside it.
    const sent = JSON.parse((await request.locator("pre").textContent())!) as { id: string };
    expect(received.map((body) => (JSON.parse(body) as { id: string }).id)).toContain(sent.id);
    await checkPage(page, "webhook-endpoint");
    expect(errors).toEqual([]);
    await context.close();
  });

  it("offers a viewer no way to create a key, and the API refuses the viewer anyway", async () => {
    const { context, page, errors } = await signedIn(viewerEmail);
    await open(page, "/test/api-keys", "API keys");
    await page.waitForFunction(() => !document.querySelector("[role=status][aria-live]"));
    expect(await page.getByRole("button", { name: /Create .* key/ }).count()).toBe(0);
    expect(await page.getByRole("form", { name: "Create an API key" }).count()).toBe(0);
    // The same call the owner's page makes, sent with the viewer's session.
    const refused = await page.evaluate(async () => {
      const res = await fetch("/onerouter.admin.v1.ApiKeyService/CreateApiKey", {
        method: "POST",
        headers: { "content-type": "application/json", "connect-protocol-version": "1", "onerouter-environment": "test" },
        body: JSON.stringify({ name: "sneaky", environment: "ENVIRONMENT_TEST" }),
      });
      return { status: res.status, body: (await res.json()) as { code: string } };
    });
    expect(refused.body.code).toBe("permission_denied");
    await checkPage(page, "api-keys-viewer");
    // A viewer reads every page, so each is in the navigation; routing is shown and previewed, not edited.
    expect(await page.getByRole("navigation", { name: "Console" }).getByRole("link").count()).toBe(12);
    await open(page, "/test/routing", "Routing");
    await page.getByTestId("routing-preview").waitFor();
    expect(await page.getByRole("button", { name: "Save routing" }).count()).toBe(0);
    expect(await page.getByRole("form", { name: "Add a rule" }).count()).toBe(0);
    expect(await page.getByLabel("Strategy").isDisabled()).toBe(true);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("shows test or live data as the switch says, and marks live unmistakably", async () => {
    await api.webhooks.createEndpoint({ url: "https://test.example.com/hooks" });
    await liveApi.webhooks.createEndpoint({ url: "https://live.example.com/hooks" });
    const { context, page, errors } = await signedIn(ownerEmail);
    await open(page, "/test/webhooks", "Webhooks");
    await page.getByRole("link", { name: "https://test.example.com/hooks" }).waitFor();
    expect(await page.getByRole("link", { name: "https://live.example.com/hooks" }).count()).toBe(0);
    expect(await page.getByRole("note").count()).toBe(0);

    await page.getByRole("group", { name: "Environment" }).getByRole("link", { name: "Live" }).click();
    await page.getByRole("link", { name: "https://live.example.com/hooks" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/console/live/webhooks");
    expect(await page.getByRole("link", { name: "https://test.example.com/hooks" }).count()).toBe(0);
    expect(await page.getByRole("note").textContent()).toContain("LIVE");
    await checkPage(page, "webhooks-live");
    expect(errors).toEqual([]);
    await context.close();
  });

  it("opens every page without an error, usable by assistive technology", async () => {
    const { context, page, errors } = await signedIn(ownerEmail);
    const pages: [string, string][] = [
      ["/test/", "Overview"],
      ["/test/messages", "Messages"],
      ["/test/team", "Team"],
      ["/test/usage", "Plan and usage"],
      ["/test/analytics", "Analytics"],
      ["/test/audit-log", "Audit log"],
      ["/test/reference", "API reference"],
    ];
    for (const [path, heading] of pages) {
      await open(page, path, heading);
      await checkPage(page, heading.toLowerCase().replaceAll(" ", "-"));
    }
    // The reference is made from the protos' comments.
    await open(page, "/test/reference?q=PaymentService", "API reference");
    expect(await page.getByRole("heading", { name: "PaymentService" }).count()).toBe(1);
    expect(await page.content()).toContain("CapturePayment");
    expect(errors).toEqual([]);
    await context.close();
  }, 180_000);
});
