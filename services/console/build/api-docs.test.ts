import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { routeOnLoopback } from "../test/index";
import { docsRoute } from "../src/route";
import { renderHtml, renderMarkdown, undocumented } from "./api-docs";
import { readApiReference } from "./api-reference";

const files = readApiReference();
const methods = files.flatMap((f) => f.services.flatMap((s) => s.methods.map((m) => ({ service: `${f.package}.${s.name}`, method: m }))));

describe("the API reference", () => {
  it("is committed as docs/api.md exactly as the protos render it", () => {
    const committed = readFileSync(path.resolve(import.meta.dirname, "../../../docs/api.md"), "utf8");
    // On a difference: npm run docs --workspace @onerouter/console
    expect(committed).toBe(renderMarkdown(files));
  });

  it("has a comment on every service, method and field", () => {
    // On a failure: write a // comment above each one listed, in proto/.
    expect(undocumented(files)).toEqual([]);
  });

  it("shows every method with its errors and an example in curl and in the TypeScript client", () => {
    const markdown = renderMarkdown(files);
    expect(methods.length).toBeGreaterThan(50);
    for (const { service, method } of methods) {
      const section = markdown.split(`#### ${service.split(".").pop()}.${method.name}\n`)[1]?.split("\n#### ")[0];
      expect(section, `${service}.${method.name}`).toBeDefined();
      expect(section).toContain("| UNAUTHENTICATED |");
      expect(section).toContain(`http://localhost:8080/${service}/${method.name}`);
      expect(section).toMatch(/```ts\n(const answer = await|for await)/);
    }
    const create = markdown.split("#### PaymentService.CreatePayment\n")[1]!.split("\n#### ")[0]!;
    expect(create).toContain("IDEMPOTENCY_KEY_REUSED");
    expect(create).toContain('"currency": "USD"');
    const get = markdown.split("#### PaymentService.GetPayment\n")[1]!.split("\n#### ")[0]!;
    expect(get).toContain("RESOURCE_NOT_FOUND");
    expect(get).not.toContain("IDEMPOTENCY_KEY_REUSED");
  });

  describe("at /docs", () => {
    const distDir = mkdtempSync(path.join(os.tmpdir(), "console-dist-"));
    let served: Awaited<ReturnType<typeof routeOnLoopback>>;
    let base = "";
    beforeAll(async () => {
      served = await routeOnLoopback(docsRoute({ distDir }));
      base = served.base;
    });
    afterAll(async () => {
      await served?.close();
      rmSync(distDir, { recursive: true, force: true });
    });

    it("says how to build it when the build is missing, and serves the built page under the console's security headers", async () => {
      const missing = await fetch(`${base}/docs`);
      expect(missing.status).toBe(503);
      expect(await missing.text()).toContain("npm run build --workspace @onerouter/console");

      mkdirSync(path.join(distDir, "docs"));
      writeFileSync(path.join(distDir, "docs", "index.html"), renderHtml(files));
      const page = await fetch(`${base}/docs`);
      expect(page.status).toBe(200);
      expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
      const html = await page.text();
      for (const { service, method } of methods) expect(html).toContain(`id="${service}.${method.name}"`);
      expect((await fetch(`${base}/docs/other`)).status).toBe(404);
      expect((await fetch(`${base}/docs`, { method: "POST" })).status).toBe(405);
    });
  });
});
