import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DataFolderBusyError, dataFolderHolder, lockDataFolder } from "./data-folder-lock";

describe("the data folder lock", () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "onerouter-lock-"));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it("is held by one taker at a time, and free again once released", () => {
    const dir = tempDir();
    const lock = lockDataFolder(dir, "server");
    expect(dataFolderHolder(dir)).toMatchObject({ pid: process.pid, command: "server" });
    const err = (() => {
      try {
        lockDataFolder(dir, "migrate");
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(DataFolderBusyError);
    expect((err as Error).message).toContain(path.resolve(dir));
    expect((err as Error).message).toContain(`process ${process.pid}`);
    lock.release();
    expect(dataFolderHolder(dir)).toBeUndefined();
    lockDataFolder(dir, "migrate").release();
  });

  it("takes over from a holder that died without releasing", () => {
    const dir = tempDir();
    // A real process that has exited: its PID is gone from this host.
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    const file = path.join(dir, "onerouter.lock");
    writeFileSync(file, JSON.stringify({ pid: Number(dead.stdout), host: os.hostname(), startedAt: "2026-01-01T00:00:00Z", command: "server" }));
    expect(dataFolderHolder(dir)).toBeUndefined();
    const lock = lockDataFolder(dir, "server");
    expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ pid: process.pid });
    lock.release();
  });

  it("takes over a lock naming this very PID from an earlier life of the process", () => {
    const dir = tempDir();
    writeFileSync(
      path.join(dir, "onerouter.lock"),
      JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: "2026-01-01T00:00:00Z", command: "server" }),
    );
    lockDataFolder(dir, "server").release();
  });

  it("does not take a lock from another host, whose processes it cannot see", () => {
    const dir = tempDir();
    writeFileSync(
      path.join(dir, "onerouter.lock"),
      JSON.stringify({ pid: 1, host: "elsewhere.example", startedAt: "2026-01-01T00:00:00Z", command: "server" }),
    );
    expect(() => lockDataFolder(dir, "server")).toThrow(/in use by process 1 on elsewhere\.example/);
  });
});
