import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config";

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("has working defaults for the embedded product", () => {
    const config = loadConfig({});
    expect(config.port).toBe(8080);
    expect(config.dataDir).toBe("./data");
    expect(config.databaseUrl).toBeUndefined();
    expect(config.natsUrl).toBeUndefined();
  });

  it.each([
    [{ PORT: "eighty" }, "PORT"],
    [{ PORT: "70000" }, "PORT"],
    [{ DATABASE_URL: "mysql://x" }, "DATABASE_URL"],
    [{ DATABASE_URL: "not a url" }, "DATABASE_URL"],
    [{ DATABASE_URL: "postgres://db/x" }, "ONEROUTER_MASTER_KEY"],
    [{ ONEROUTER_MASTER_KEY: "c2hvcnQ=" }, "ONEROUTER_MASTER_KEY"],
    [{ NATS_URL: "http://nats:4222" }, "NATS_URL"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    [{ ONEROUTER_RATE_LIMIT_RPS: "0" }, "ONEROUTER_RATE_LIMIT_RPS"],
    [{ ONEROUTER_DATA_DIR: " " }, "ONEROUTER_DATA_DIR"],
  ])("names the bad variable in %j", (env, variable) => {
    const err = configError(env);
    expect(err.variable).toBe(variable);
    expect(err.message.startsWith(variable)).toBe(true);
  });

  it("reads a JSON file, with the environment winning", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "onerouter-config-"));
    const file = path.join(dir, "config.json");
    writeFileSync(file, JSON.stringify({ PORT: 9000, LOG_LEVEL: "debug" }));
    const config = loadConfig({ ONEROUTER_CONFIG_FILE: file, LOG_LEVEL: "warn" });
    expect(config.port).toBe(9000);
    expect(config.logLevel).toBe("warn");
    writeFileSync(file, "{oops");
    expect(configError({ ONEROUTER_CONFIG_FILE: file }).variable).toBe("ONEROUTER_CONFIG_FILE");
  });
});
