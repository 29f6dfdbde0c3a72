import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consoleRoute } from "./route";

// The console's route on a bare HTTP server, pointed at a folder with no build.
describe("the console route without a build", () => {
  const emptyDir = mkdtempSync(path.join(os.tmpdir(), "console-dist-"));
  const route = consoleRoute({ distDir: emptyDir });
  const server = http.createServer((req, res) => void route.handler(req, res));
  let base = "";
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
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
