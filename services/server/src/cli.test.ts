import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { devProfiles } from "@onerouter/emulators";
import { afterAll, describe, expect, it } from "vitest";
import { runCli as run, startCliServer } from "../test/cli";

// The CLI as a newcomer runs it: a real process, real signals.
const repoRoot = path.resolve(import.meta.dirname, "../../..");

describe("onerouter CLI", () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "onerouter-cli-"));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it.each([
    [{ PORT: "http" }, "PORT"],
    [{ DATABASE_URL: "postgres://localhost/x" }, "ONEROUTER_MASTER_KEY"],
    [{ LOG_LEVEL: "chatty" }, "LOG_LEVEL"],
  ])("stops on bad config %j with a message naming the variable and no stack trace", (env, variable) => {
    const result = run(["start"], { ONEROUTER_DATA_DIR: tempDir(), ...env });
    expect(result.status).toBe(78);
    expect(result.stderr).toContain(`onerouter: invalid configuration: ${variable}`);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("explains its usage", () => {
    const result = run(["frobnicate"], { ONEROUTER_DATA_DIR: tempDir() });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('unknown command "frobnicate"');
  });

  it("answers --version and every command's --help without starting anything, listing what dev starts", () => {
    const untouched = path.join(tempDir(), "never-made");
    const version = run(["--version"], { ONEROUTER_DATA_DIR: untouched });
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout).toMatch(/^onerouter \d+\.\d+\.\d+ \(Node\.js /);
    const help = run(["--help"], { ONEROUTER_DATA_DIR: untouched });
    expect(help.status).toBe(0);
    for (const { title } of devProfiles) expect(help.stdout).toContain(title);
    const commands = [...help.stdout.matchAll(/^ {2}([a-z][a-z-]+)\b/gm)].map((m) => m[1]!);
    expect(new Set(commands)).toEqual(new Set(["start", "serve", "dev", "migrate", "keys", "members", "master-key", "tenants", "erase-contact", "listen"]));
    for (const command of new Set(commands)) {
      const answer = run([command, "--help"], { ONEROUTER_DATA_DIR: untouched });
      expect(answer.status, `${command} --help`).toBe(0);
      expect(answer.stdout).toContain(`  ${command}`);
    }
    const sub = run(["keys", "revoke", "--help"], { ONEROUTER_DATA_DIR: untouched });
    expect(sub.stdout).toContain("keys revoke KEY_ID");
    expect(existsSync(untouched)).toBe(false);
  });

  it("starts, hands out a key that works over curl-style HTTP and grpc-js, and drains on SIGTERM", async () => {
    const dataDir = tempDir();
    const server = await startCliServer(dataDir);
    const { port } = server;
    try {
      // Every fetch on a connection of its own: the CLI commands between them outlast the server's keep-alive.
      expect((await fetch(`http://127.0.0.1:${port}/healthz`, { headers: { connection: "close" } })).status).toBe(200);
      await server.waitForLog("keys create --env test");
      expect(server.logs()).toContain("keys create --env test");

      const keys = run(["keys", "create", "--env", "test"], { ONEROUTER_DATA_DIR: dataDir });
      expect(keys.status, keys.stderr).toBe(0);
      const key = keys.stdout.trim().split("\n").at(-1)!;
      expect(key).toMatch(/^or_test_/);

      const res = await fetch(`http://127.0.0.1:${port}/onerouter.admin.v1.ApiKeyService/ListApiKeys`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json", connection: "close" },
        body: "{}",
      });
      expect(res.status).toBe(200);

      const definition = protoLoader.loadSync("onerouter/admin/v1/api_keys.proto", {
        includeDirs: [path.join(repoRoot, "proto")],
        keepCase: true,
      });
      const pkg = grpc.loadPackageDefinition(definition) as unknown as {
        onerouter: { admin: { v1: { ApiKeyService: grpc.ServiceClientConstructor } } };
      };
      const client = new pkg.onerouter.admin.v1.ApiKeyService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
      const md = new grpc.Metadata();
      md.set("authorization", `Bearer ${key}`);
      const listed = await new Promise<{ api_keys: unknown[] }>((resolve, reject) =>
        (client as unknown as { ListApiKeys: Function }).ListApiKeys({}, md, (err: Error | null, r: { api_keys: unknown[] }) =>
          err ? reject(err) : resolve(r),
        ),
      );
      client.close();
      expect(listed.api_keys.length).toBe(1);

      // One access-log line per request, with its request id and never the key.
      await server.waitForLog("onerouter.admin.v1.ApiKeyService/ListApiKeys → 200");
      expect(server.logs()).toMatch(/"requestId":"req_[0-9a-f-]{36}"/);
      expect(server.logs()).not.toContain(key);

      const listedByCli = run(["keys", "list", "--env", "test"], { ONEROUTER_DATA_DIR: dataDir });
      expect(listedByCli.status, listedByCli.stderr).toBe(0);
      const row = listedByCli.stdout.split("\n").find((line) => line.includes(key.slice(0, 12)))!;
      expect(row).toMatch(/^key_\S+\s+or_test_\S+\s+CLI test key\s+.*active$/);
      const revoked = run(["keys", "revoke", row.split(/\s+/)[0]!], { ONEROUTER_DATA_DIR: dataDir });
      expect(revoked.status, revoked.stderr).toBe(0);
      const refused = await fetch(`http://127.0.0.1:${port}/onerouter.admin.v1.ApiKeyService/ListApiKeys`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json", connection: "close" },
        body: "{}",
      });
      expect(refused.status).toBe(401);
      expect(run(["keys", "revoke", "key_unknown"], { ONEROUTER_DATA_DIR: dataDir }).stderr).toContain("has no API key key_unknown");
    } finally {
      expect(await server.stop(), server.logs()).toBe("0:null");
    }
    expect(server.logs()).toContain("stopped");
  }, 300_000);
});
