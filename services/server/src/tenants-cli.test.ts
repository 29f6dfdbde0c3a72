import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { afterAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "@onerouter/client/gen/google/rpc/error_details_pb";

// `onerouter tenants` as the platform's operator runs it: real processes,
// on the data folder directly and through the running server.
const repoRoot = path.resolve(import.meta.dirname, "../../..");
const cli = path.join(repoRoot, "services/server/bin/onerouter.js");

function run(args: string[], dataDir: string) {
  return spawnSync(process.execPath, [cli, ...args], {
    env: { ...process.env, LOG_LEVEL: "warn", ONEROUTER_DATA_DIR: dataDir },
    encoding: "utf8",
    timeout: 180_000,
  });
}

function ok(args: string[], dataDir: string): string {
  const result = run(args, dataDir);
  expect(result.status, `${args.join(" ")}: ${result.stderr}`).toBe(0);
  return result.stdout.trim();
}

const lastLine = (output: string) => output.split("\n").at(-1)!;

describe("onerouter tenants", () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "onerouter-tenants-"));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  // Each command is its own Node process: few of them, since each costs seconds.
  it("creates, lists, re-plans, suspends and resumes tenants, audited, with or without the server running", async () => {
    // No server: the command opens the data folder itself.
    const acme = lastLine(ok(["tenants", "create", "--name", "Acme", "--plan", "pro"], dataDir));
    expect(acme).toMatch(/^ten_/);

    const server = spawn(process.execPath, [cli, "start"], {
      env: { ...process.env, PORT: "0", HOST: "127.0.0.1", ONEROUTER_DATA_DIR: dataDir, LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let logs = "";
    server.stderr.on("data", (c: Buffer) => (logs += c.toString()));
    try {
      const runFile = path.join(dataDir, "server.json");
      const started = Date.now();
      let port = 0;
      while (!port) {
        if (Date.now() - started > 120_000) throw new Error(`not listening after 120 s:\n${logs}`);
        if (existsSync(runFile)) port = (JSON.parse(readFileSync(runFile, "utf8")) as { port?: number }).port ?? 0;
        await new Promise((r) => setTimeout(r, 100));
      }
      // A new connection per call: the commands between calls block this
      // process longer than the server keeps an idle connection open.
      const call = (service: string, method: string, key: string) =>
        new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
          const req = http.request(
            { host: "127.0.0.1", port, method: "POST", path: `/onerouter.admin.v1.${service}/${method}`, agent: false },
            (res) => {
              let text = "";
              res.on("data", (chunk: Buffer) => (text += chunk.toString()));
              res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
            },
          );
          req.on("error", (err) => reject(new Error(`${service}/${method} failed (${String(err)}); the server logged:\n${logs}`)));
          req.setHeader("authorization", `Bearer ${key}`);
          req.setHeader("content-type", "application/json");
          req.end("{}");
        });

      // Through the running server from here on.
      const key = lastLine(ok(["keys", "create", "--env", "live", "--tenant", acme], dataDir));
      expect(await call("UsageService", "GetPlan", key)).toMatchObject({ status: 200, body: { plan: { id: "pro" } } });

      expect(ok(["tenants", "set-plan", acme, "free"], dataDir)).toBe(`Tenant ${acme} is on the free plan.`);
      expect(await call("UsageService", "GetPlan", key)).toMatchObject({ body: { plan: { id: "free" } } });
      const badPlan = run(["tenants", "set-plan", acme, "platinum"], dataDir);
      expect(badPlan.status).toBe(2);
      expect(badPlan.stderr).toContain('"platinum" is not a plan');

      ok(["tenants", "suspend", acme], dataDir);
      const suspended = await call("ApiKeyService", "ListApiKeys", key);
      expect(suspended).toMatchObject({ status: 403, body: { code: "permission_denied" } });
      const [detail] = suspended.body.details as { type: string; value: string }[];
      expect(fromBinary(ErrorInfoSchema, Buffer.from(detail!.value, "base64")).reason).toBe("TENANT_SUSPENDED");

      const listing = ok(["tenants", "list"], dataDir).split("\n");
      expect(listing[0]).toBe("ID\tPLAN\tSTATUS\tCREATED\tNAME");
      expect(listing.find((l) => l.startsWith(acme))).toMatch(/\tfree\tsuspended\t.*\tAcme$/);
      expect(listing.filter((l) => /\tenterprise\tactive\t.*\tDefault$/.test(l))).toHaveLength(1);

      ok(["tenants", "resume", acme], dataDir);
      expect((await call("ApiKeyService", "ListApiKeys", key)).status).toBe(200);

      // The operator's changes are in the tenant's live audit log, nothing was deleted.
      const audit = await call("AuditLogService", "ListAuditLogEntries", key);
      const changes = (audit.body.entries as { action: string; actor: string }[]).filter((e) => e.action.startsWith("tenant."));
      expect(changes.map((e) => e.action).sort()).toEqual(["tenant.create", "tenant.plan_update", "tenant.resume", "tenant.suspend"]);
      expect(changes.every((e) => e.actor === "cli")).toBe(true);
    } finally {
      const exited = new Promise<string>((resolve) => server.once("exit", (code, signal) => resolve(`${code}:${signal}`)));
      server.kill("SIGTERM");
      expect(await exited, logs).toBe("0:null");
    }
  }, 600_000);
});
