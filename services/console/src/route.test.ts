import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { routeOnLoopback } from "../test/index";
import { consoleRoute } from "./route";

// The console's route on a bare HTTP server, pointed at a folder with no build.
describe("the console route without a build", () => {
  const emptyDir = mkdtempSync(path.join(os.tmpdir(), "console-dist-"));
  let served: Awaited<ReturnType<typeof routeOnLoopback>>;
  let base = "";
  beforeAll(async () => {
    served = await routeOnLoopback(consoleRoute({ distDir: emptyDir }));
    base = served.base;
  });
  afterAll(async () => {
    await served?.close();
    rmSync(emptyDir, { recursive: true, force: true });
  });

  it("answers a page that says how to build it, not a blank one", async () => {
    const res = await fetch(`${base}/console/test/payments`);
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    const body = await res.text();
    expect(body).toContain("The console has not been built");
    expect(body).toContain("npm run build --workspace @onerouter/console");
  });

  it("refuses what is not a read and redirects the bare prefix", async () => {
    expect((await fetch(`${base}/console/`, { method: "POST" })).status).toBe(405);
    const bare = await fetch(`${base}/console`, { redirect: "manual" });
    expect(bare.status).toBe(308);
    expect(bare.headers.get("location")).toBe("/console/");
  });
});
