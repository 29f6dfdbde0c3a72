import { startTestOneRouter, type TestOneRouter } from "@onerouter/server/testing";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ensureConsoleBuilt,
  firstLoadGzipBytes,
  launchChromium,
  saveScreenshot,
  seriousAccessibilityViolations,
  watchPageErrors,
} from "./index";

// The console as a newcomer meets it before signing in, in a real Chromium
// against the whole product.
describe("the console before sign-in", () => {
  let app: TestOneRouter;
  let browser: Browser;
  beforeAll(async () => {
    await ensureConsoleBuilt();
    [app, browser] = await Promise.all([startTestOneRouter(), launchChromium()]);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it("keeps the first load under 350 KB of gzipped JavaScript", () => {
    const { bytes, files } = firstLoadGzipBytes();
    expect(files.length).toBeGreaterThan(0);
    expect(bytes).toBeLessThan(350 * 1024);
  });

  it("serves its pages with strict security headers and every deep link with the app", async () => {
    for (const path of ["/console/", "/console/test/payments/pay_123?status=4", "/console/live/webhooks"]) {
      const res = await fetch(app.baseUrl + path);
      expect(res.status, path).toBe(200);
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain("unsafe-inline");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
      expect(res.headers.get("cache-control")).toBe("no-cache");
      expect(await res.text()).toContain('<div id="root">');
    }
    const html = await (await fetch(`${app.baseUrl}/console/`)).text();
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const asset = await fetch(app.baseUrl + script);
    expect(asset.headers.get("cache-control")).toContain("immutable");
    expect(asset.headers.get("content-type")).toContain("javascript");
    expect((await fetch(`${app.baseUrl}/console/assets/missing-123.js`)).status).toBe(404);
  });

  it("sends a signed-out visitor to sign-in, keeping where they were going, and shows a failed sign-in", async () => {
    const page = await browser.newPage();
    const errors = watchPageErrors(page);
    await page.goto(`${app.baseUrl}/console/test/payments?status=4`);
    await page.getByRole("heading", { name: "Sign in to OneRouter" }).waitFor();
    expect(new URL(page.url()).searchParams.get("next")).toBe("/console/test/payments?status=4");
    expect(await seriousAccessibilityViolations(page)).toEqual([]);
    await saveScreenshot(page, "sign-in");

    // By keyboard alone: Tab to each field, Enter to submit.
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.getAttribute("autocomplete"))).toBe("username");
    await page.keyboard.type("nobody@example.com");
    await page.keyboard.press("Tab");
    await page.keyboard.type("not the password at all");
    await page.keyboard.press("Enter");
    await page.getByRole("alert").waitFor();
    expect(await page.getByRole("heading", { name: "Sign in to OneRouter" }).isVisible()).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("opens an invitation link as its own page, saying when the token is missing", async () => {
    const page = await browser.newPage();
    const errors = watchPageErrors(page);
    await page.goto(`${app.baseUrl}/console/accept-invitation`);
    await page.getByRole("heading", { name: "Join a OneRouter team" }).waitFor();
    expect(await page.getByRole("alert").textContent()).toContain("no invitation token");
    expect(await page.getByRole("button", { name: "Accept invitation" }).isDisabled()).toBe(true);
    expect(await seriousAccessibilityViolations(page)).toEqual([]);
    await saveScreenshot(page, "accept-invitation");
    expect(errors).toEqual([]);
    await page.close();
  });
});
