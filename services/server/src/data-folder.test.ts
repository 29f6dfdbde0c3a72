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
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: "{}",
    });
    return res.status;
  }

  it("serves one process: a second server is refused, commands go through the first, and a kill -9 frees it", async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "onerouter-folder-"));
    dirs.push(dataDir);
    const env = { ONEROUTER_DATA_DIR: dataDir };
    // No server yet: migrate takes the fresh folder and says what it applied.
    const fresh = runCli(["migrate"], env);
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
    const migrated = await runCliAsync(["migrate"], env);
    expect(migrated.status, migrated.stderr).toBe(0);
    expect(migrated.stdout).toContain("database is up to date");

    expect(await first.stop("SIGKILL")).toBe("null:SIGKILL");
    const next = await startServerProcess(dataDir);
    servers.push(next);
    // The key the server made is still there after the crash.
    expect(await listApiKeys(next, key)).toBe(200);
    expect(await next.stop()).toBe("0:null");

    // No server: the command takes the folder itself.
    const alone = runCli(["keys", "create", "--env", "live"], env);
    expect(alone.status, alone.stderr).toBe(0);
    expect(alone.stdout).toMatch(/or_live_/);
  }, 400_000);
});
