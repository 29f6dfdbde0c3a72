import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { routeOnLoopback } from "../test/index";
import { docsRoute } from "../src/route";
import { everyCall, everyChange, renderHtml, renderMarkdown, undocumented } from "./api-docs";
import { readApiReference } from "./api-reference";

const files = readApiReference();
const methods = files.flatMap((f) => f.services.flatMap((s) => s.methods.map((m) => ({ pkg: f.package, service: `${f.package}.${s.name}`, method: m }))));

// The room whose code answers each package's methods.
const owningRoom: Record<string, string> = {
  "onerouter.payments.v1": "payments",
  "onerouter.messaging.v1": "messaging",
  "onerouter.webhooks.v1": "webhooks",
  "onerouter.admin.v1": "admin",
};
const servicesDir = path.resolve(import.meta.dirname, "../../..", "services");

// The ErrorInfo reasons a room's code throws: the UPPER_SNAKE literals in
// each apiError, failedPrecondition and invalidArgument call (INVALID_FIELD
// when an invalidArgument names none), RESOURCE_NOT_FOUND for notFound and
// PLAN_LIMIT_REACHED for checkPlanCount. `connectors`: also the provider
// translations, whose reasons reach callers only through a family (PROVIDER_*).
function reasonsThrownBy(room: string, { connectors }: { connectors: boolean }): Set<string> {
  const reasons = new Set<string>();
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (connectors || entry.name !== "connectors") visit(full);
      } else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) {
        const text = readFileSync(full, "utf8");
        for (const call of text.matchAll(/\b(apiError|failedPrecondition|invalidArgument|notFound|checkPlanCount)\(/g)) {
          if (call[1] === "notFound") reasons.add("RESOURCE_NOT_FOUND");
          else if (call[1] === "checkPlanCount") reasons.add("PLAN_LIMIT_REACHED");
          else {
            // The call's arguments, to its closing parenthesis.
            let depth = 1;
            let end = call.index + call[0].length;
            while (depth > 0 && end < text.length) depth += text[end] === "(" ? 1 : text[end] === ")" ? -1 : 0, end++;
            const named = [...text.slice(call.index, end).matchAll(/"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"/g)].map((m) => m[1]!);
            if (named.length === 0 && call[1] === "invalidArgument") named.push("INVALID_FIELD");
            for (const reason of named) reasons.add(reason);
          }
        }
      }
    }
  };
  visit(path.join(servicesDir, room, "src"));
  return reasons;
}

// A documented reason covers a thrown one when they are the same, or the documented one is a family (PROVIDER_*) it belongs to.
const covers = (documented: string, thrown: string) => (documented.endsWith("*") ? thrown.startsWith(documented.slice(0, -1)) : documented === thrown);
const reasonsOf = (errors: { reason: string }[]) => errors.flatMap((e) => e.reason.split(", "));

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
    expect(get).toContain("| NOT_FOUND | RESOURCE_NOT_FOUND |");
    expect(get).not.toContain("IDEMPOTENCY_KEY_REUSED");
    const capture = markdown.split("#### PaymentService.CapturePayment\n")[1]!.split("\n#### ")[0]!;
    expect(capture).toContain("| FAILED_PRECONDITION | PAYMENT_STATE_INVALID | the payment is not awaiting capture;");
    expect(capture).not.toContain("Errors:");
  });

  // Each method's own errors come from the "Errors:" part of its proto comment;
  // checked against the code both ways, so neither drifts without this failing.
  describe("each method's own errors", () => {
    it("belong to a room that answers the method's package", () => {
      expect(methods.filter((m) => !owningRoom[m.pkg]).map((m) => m.service)).toEqual([]);
    });

    it("name only reasons the room's code throws", () => {
      const thrown = Object.fromEntries(Object.values(owningRoom).map((room) => [room, [...reasonsThrownBy(room, { connectors: true })]]));
      const unknown = methods.flatMap(({ pkg, service, method }) =>
        reasonsOf(method.errors ?? [])
          .filter((reason) => !thrown[owningRoom[pkg]!]!.some((r) => covers(reason, r)))
          .map((reason) => `${service}.${method.name}: ${reason}`),
      );
      // On a failure: the reason is not thrown by services/<room>/src; correct the proto comment.
      expect(unknown).toEqual([]);
    });

    it("cover every reason the room's handlers throw, on at least one method", () => {
      const undocumentedReasons = Object.entries(owningRoom).flatMap(([pkg, room]) => {
        const documented = [...reasonsOf(everyCall), ...reasonsOf(everyChange), ...methods.filter((m) => m.pkg === pkg).flatMap((m) => reasonsOf(m.method.errors ?? []))];
        return [...reasonsThrownBy(room, { connectors: false })].filter((r) => !documented.some((d) => covers(d, r))).map((r) => `${room}: ${r}`);
      });
      // On a failure: add the reason to the "Errors:" of each method that can answer it, in proto/.
      expect(undocumentedReasons).toEqual([]);
    });
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
