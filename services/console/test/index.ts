import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { expect } from "vitest";
import type { HttpRoute } from "@onerouter/core";
import { consoleDistDir } from "../src/route";

// Browser tests of the console: the bundle built from the sources as
// install builds it, and Debian's Chromium driven by playwright-core.

const consoleDir = path.resolve(import.meta.dirname, "..");
const repoRoot = path.resolve(consoleDir, "../..");
export const screenshotDir = path.join(repoRoot, "test-results", "console");

function newestChange(entry: string): number {
  const stat = statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(entry).map((name) => newestChange(path.join(entry, name))));
}

// Builds the console unless dist/ is newer than every source it is made of.
// Test files may run at once: a lock directory lets one build while the others wait.
export async function ensureConsoleBuilt(): Promise<void> {
  const sources = ["app", "build", "index.html", "vite.config.ts", "../../proto", "../../clients/ts/src"].map((p) => path.join(consoleDir, p));
  const built = path.join(consoleDistDir, "index.html");
  const fresh = () => {
    try {
      return statSync(built).mtimeMs >= Math.max(...sources.map(newestChange));
    } catch {
      return false;
    }
  };
  const lock = path.join(consoleDir, ".build-lock");
  for (;;) {
    if (fresh()) return;
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock left by a process killed mid-build is stale after a minute.
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })!.mtimeMs > 60_000) rmSync(lock, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    if (fresh()) return;
    const { build } = await import("vite");
    // Vitest sets NODE_ENV to "test", which Vite would follow into a
    // development build of React; the bundle tested is the one install makes.
    const nodeEnv = process.env.NODE_ENV;
    process.env.NODE_ENV = "production";
    try {
      await build({ configFile: path.join(consoleDir, "vite.config.ts"), logLevel: "warn", mode: "production" });
    } finally {
      process.env.NODE_ENV = nodeEnv;
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

// The JavaScript the first page load fetches, gzipped: the entry script and
// the chunks index.html preloads (pages load later, when opened).
export function firstLoadGzipBytes(): { bytes: number; files: string[] } {
  const html = readFileSync(path.join(consoleDistDir, "index.html"), "utf8");
  const files = [...html.matchAll(/(?:src|href)="\/console\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]!);
  const bytes = files.reduce((sum, file) => sum + gzipSync(readFileSync(path.join(consoleDistDir, file)), { level: 9 }).length, 0);
  return { bytes, files };
}

export const chromiumPath = "/usr/bin/chromium";

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
}

// What a page logged as an error or threw, for a test to assert none. The
// browser's own "Failed to load resource" lines for API answers such as
// 401 are left out: an expected API error is shown on the page instead.
export function watchPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(`uncaught: ${err.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) errors.push(message.text());
  });
  return errors;
}

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

// Runs axe-core in the page (through the DevTools protocol, which the
// page's CSP does not govern) and answers its serious and critical findings.
export async function seriousAccessibilityViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown[] }> }> }> } }).axe;
    const result = await axe.run();
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => String(n.target)) }));
  });
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

export async function saveScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  writeFileSync(file, await page.screenshot({ fullPage: true }));
  return file;
}

export interface SignedInPage {
  context: BrowserContext;
  page: Page;
  // What the page logged as an error or threw (see watchPageErrors).
  errors: string[];
}

// A fresh browser context (its own cookies) signed in through the sign-in page.
export async function signInAs(browser: Browser, baseUrl: string, member: { email: string; password: string }): Promise<SignedInPage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors = watchPageErrors(page);
  await page.goto(`${baseUrl}/console/sign-in`);
  await page.getByLabel("Email").fill(member.email);
  await page.getByLabel("Password").fill(member.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  return { context, page, errors };
}

// Opens a console path (after /console) and waits for its page's heading.
export async function openPage(page: Page, baseUrl: string, path: string, heading: string | RegExp): Promise<void> {
  await page.goto(`${baseUrl}/console${path}`);
  await page.getByRole("heading", { level: 1, name: heading }).waitFor();
}

// Judges a page once its loading states are over: no serious or critical
// axe-core finding; then saves its screenshot under `name`.
export async function checkPage(page: Page, name: string): Promise<void> {
  await page.waitForFunction(() => !document.querySelector("[role=status][aria-live]"), undefined, { timeout: 10_000 });
  expect(await seriousAccessibilityViolations(page), name).toEqual([]);
  await saveScreenshot(page, name);
}

// One of the console package's routes alone on a loopback HTTP server.
export async function routeOnLoopback(route: HttpRoute): Promise<{ base: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => void route.handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
