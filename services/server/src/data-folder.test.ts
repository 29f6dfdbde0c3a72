import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli, runCliAsync, startServerProcess, type ServerProcess } from "./cli-processes";

// One process per embedded data folder: real processes, real signals.
describe("an embedded data folder", () => {
  const dirs: string[] = [];
  const servers: ServerProcess[] = [];
  afterAll(async () => {
    for (const server of servers) await server.stop("SIGKILL");
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  async function listApiKeys(server: ServerProcess, key: string) {
    const res = await fetch(`${server.url}/onerouter.admin.v1.ApiKeyService/ListApiKeys`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json", connection: "close" },
      body: "{}",
    });
    return res.status;
  }

  // The server's output once it shows `pattern` (output reaches us a little after the answer).
  async function logsShowing(server: ServerProcess, pattern: RegExp): Promise<string> {
    const deadline = Date.now() + 10_000;
    while (!pattern.test(server.logs()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return server.logs();
  }

  const listRpc = "onerouter.admin.v1.ApiKeyService/ListApiKeys";
  // A well-formed key no one holds: refused, and never written to a log.
  const unknownKey = "or_test_" + "x".repeat(43);

  it("serves one process: a second server is refused, commands go through the first, and a kill -9 frees it", async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "onerouter-folder-"));
    dirs.push(dataDir);
    const env = { ONEROUTER_DATA_DIR: dataDir };
    // No server yet: migrate takes the fresh folder and says what it applied.
    const fresh = await runCliAsync(["migrate"], env);
    expect(fresh.status, fresh.stderr).toBe(0);
    expect(fresh.stdout).toMatch(/^applied: \d{8}_\d{3}_/);
    const first = await startServerProcess(dataDir);
    servers.push(first);

    for (const command of ["start", "dev"]) {
      const second = runCli([command], { ...env, PORT: "0", HOST: "127.0.0.1", ONEROUTER_DEV_BASE_PORT: "0" });
      expect(second.status, second.stderr).toBe(75);
      expect(second.stderr).toContain(`the data folder ${dataDir} is in use by process ${first.pid}`);
    }

    // Asynchronously: this process must not block while the server answers.
    const created = await runCliAsync(["keys", "create", "--env", "test"], env);
    expect(created.status, created.stderr).toBe(0);
    const key = created.stdout.trim().split("\n").at(-1)!;
    expect(await listApiKeys(first, key)).toBe(200);
    expect(await listApiKeys(first, unknownKey)).toBe(401);

    // Output that is not a terminal is JSON lines: one access-log entry per request, no secret.
    const piped = await logsShowing(first, /"reason":"API_KEY_/);
    const entries = piped
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.rpc === listRpc);
    expect(entries).toEqual([
      expect.objectContaining({ level: 30, method: "POST", status: 200, durationMs: expect.any(Number), requestId: expect.stringMatching(/^req_/) }),
      expect.objectContaining({ level: 30, method: "POST", status: 401, code: "UNAUTHENTICATED", reason: "API_KEY_UNKNOWN", requestId: expect.stringMatching(/^req_/) }),
    ]);
    expect(piped).not.toContain(key);
    expect(piped).not.toContain(unknownKey);
    const migrated = await runCliAsync(["migrate"], env);
    expect(migrated.status, migrated.stderr).toBe(0);
    expect(migrated.stdout).toContain("database is up to date");

    expect(await first.stop("SIGKILL")).toBe("null:SIGKILL");
    // No server: the command takes the folder the crash left itself.
    const alone = runCli(["keys", "create", "--env", "live"], env);
    expect(alone.status, alone.stderr).toBe(0);
    const liveKey = alone.stdout.trim().split("\n").at(-1)!;
    expect(liveKey).toMatch(/^or_live_/);
    // This one's output is a terminal, as when a person runs `npm start`.
    const next = await startServerProcess(dataDir, "start", {}, { terminal: true });
    servers.push(next);
    // The key the server made is still there after the crash, and the one made without a server works.
    expect(await listApiKeys(next, key)).toBe(200);
    expect(await listApiKeys(next, liveKey)).toBe(200);
    expect(await listApiKeys(next, unknownKey)).toBe(401);
    // On a terminal, lines a person reads: local time, level, what happened; no JSON, no secret.
    const readable = (await logsShowing(next, /API_KEY_UNKNOWN/)).replace(/\x1b\[[0-9;]*m/g, "");
    expect(readable).toMatch(new RegExp(`^\\[\\d{2}:\\d{2}:\\d{2}\\.\\d{3}\\] INFO: ${listRpc} → 200 in \\d+ ms \\{"method":"POST"`, "m"));
    expect(readable).toMatch(new RegExp(`^\\[[\\d:.]+\\] INFO: ${listRpc} → UNAUTHENTICATED API_KEY_UNKNOWN in \\d+ ms .*"requestId":"req_`, "m"));
    expect(readable).not.toMatch(/^\{"level"/m);
    expect(readable).not.toContain(key);
    expect(readable).not.toContain(liveKey);
    expect(readable).not.toContain(unknownKey);
    expect(await next.stop()).toBe("0:null");
  }, 400_000);
});
