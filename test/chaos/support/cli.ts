import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { cliPath } from "./processes";

// `onerouter keys create --env test` as a user runs it; the key is the last line printed.
export async function createKeyWithCli(env: Record<string, string>): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [cliPath, "keys", "create", "--env", "test"], {
    env: { ...process.env, LOG_LEVEL: "warn", ...env },
    timeout: 60_000,
  });
  return stdout.trim().split("\n").at(-1)!;
}
