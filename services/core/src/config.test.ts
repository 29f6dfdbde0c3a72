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
    expect(config.breaker).toEqual({ failures: 5, cooldownMs: 30_000 });
  });

  it.each([
    [{ PORT: "eighty" }, "PORT"],
    [{ PORT: "70000" }, "PORT"],
    [{ DATABASE_URL: "mysql://x" }, "DATABASE_URL"],
    [{ DATABASE_URL: "not a url" }, "DATABASE_URL"],
    [{ DATABASE_URL: "postgres://db/x" }, "ONEROUTER_MASTER_KEY"],
    [{ ONEROUTER_MASTER_KEY: "c2hvcnQ=" }, "ONEROUTER_MASTER_KEY"],
    [{ ONEROUTER_MASTER_KEY: Buffer.alloc(32, 1).toString("base64"), ONEROUTER_PREVIOUS_MASTER_KEYS: "c2hvcnQ=" }, "ONEROUTER_PREVIOUS_MASTER_KEYS"],
    [{ ONEROUTER_PREVIOUS_MASTER_KEYS: Buffer.alloc(32, 1).toString("base64") }, "ONEROUTER_PREVIOUS_MASTER_KEYS"],
    [{ NATS_URL: "http://nats:4222" }, "NATS_URL"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    [{ ONEROUTER_RATE_LIMIT_RPS: "0" }, "ONEROUTER_RATE_LIMIT_RPS"],
    [{ ONEROUTER_BREAKER_FAILURES: "0" }, "ONEROUTER_BREAKER_FAILURES"],
    [{ ONEROUTER_BREAKER_COOLDOWN_MS: "soon" }, "ONEROUTER_BREAKER_COOLDOWN_MS"],
    [{ ONEROUTER_PROVIDER_TIMEOUT_MS: "5" }, "ONEROUTER_PROVIDER_TIMEOUT_MS"],
    [{ ONEROUTER_SANDBOX_PORT: "70000" }, "ONEROUTER_SANDBOX_PORT"],
    [{ ONEROUTER_DATA_DIR: " " }, "ONEROUTER_DATA_DIR"],
    [{ ONEROUTER_AUTH_FAILURES_PER_MINUTE: "0" }, "ONEROUTER_AUTH_FAILURES_PER_MINUTE"],
    [{ ONEROUTER_AUTH_FAILURES_BURST: "many" }, "ONEROUTER_AUTH_FAILURES_BURST"],
    [{ ONEROUTER_UNKNOWN_KEY_CACHE_MS: "-1" }, "ONEROUTER_UNKNOWN_KEY_CACHE_MS"],
    [{ ONEROUTER_UNKNOWN_KEY_CACHE_SIZE: "lots" }, "ONEROUTER_UNKNOWN_KEY_CACHE_SIZE"],
    [{ ONEROUTER_TRUSTED_PROXY_CIDRS: "10.0.0.0/33" }, "ONEROUTER_TRUSTED_PROXY_CIDRS"],
    [{ ONEROUTER_CORS_ORIGINS: "*" }, "ONEROUTER_CORS_ORIGINS"],
    [{ ONEROUTER_CORS_ORIGINS: "https://app.example.com/console" }, "ONEROUTER_CORS_ORIGINS"],
    [{ ONEROUTER_CORS_ORIGINS: "https://ok.example.com,ftp://files.example.com" }, "ONEROUTER_CORS_ORIGINS"],
  ])("names the bad variable in %j", (env, variable) => {
    const err = configError(env);
    expect(err.variable).toBe(variable);
    expect(err.message.startsWith(variable)).toBe(true);
  });

  it("reads the previous master keys a rotation still opens with", () => {
    const [current, first, second] = [1, 2, 3].map((b) => Buffer.alloc(32, b));
    const config = loadConfig({
      ONEROUTER_MASTER_KEY: current!.toString("base64"),
      ONEROUTER_PREVIOUS_MASTER_KEYS: `${first!.toString("base64")}, ${second!.toString("base64")}`,
    });
    expect(config.previousMasterKeys).toEqual([first, second]);
    expect(loadConfig({}).previousMasterKeys).toEqual([]);
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

  it("limits failed authentication and allows no browser origin by default", () => {
    const config = loadConfig({});
    expect(config.authFailures).toEqual({ perMinute: 60, burst: 30, unknownKeyCacheMs: 60_000, unknownKeyCacheSize: 10_000 });
    expect(config.trustedProxyCidrs).toEqual([]);
    expect(config.corsOrigins).toEqual([]);
    expect(
      loadConfig({ ONEROUTER_CORS_ORIGINS: "https://app.example.com, http://localhost:5173" }).corsOrigins,
    ).toEqual(["https://app.example.com", "http://localhost:5173"]);
  });

  it("reads the webhook delivery settings", () => {
    expect(loadConfig({}).webhookDelivery).toEqual({
      allowedCidrs: [],
      timeoutMs: 15_000,
      retryScheduleMs: [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000],
      retryScale: 1,
      concurrency: 32,
      endpointConcurrency: 4,
      disableAfterMs: 432_000_000,
      pollMs: 500,
      behindAfterMs: 1000,
      backlogRate: 100,
    });
    const tuned = loadConfig({
      ONEROUTER_WEBHOOK_ALLOWED_CIDRS: "10.0.0.0/8, fd00::/8,192.168.1.7",
      ONEROUTER_WEBHOOK_RETRY_SCHEDULE: "0,250ms,1.5s,2m,1d",
      ONEROUTER_WEBHOOK_RETRY_SCALE: "0.001",
      ONEROUTER_WEBHOOK_BEHIND_AFTER_MS: "5000",
      ONEROUTER_WEBHOOK_BACKLOG_RATE: "20",
    }).webhookDelivery;
    expect(tuned.allowedCidrs).toEqual(["10.0.0.0/8", "fd00::/8", "192.168.1.7"]);
    expect(tuned.retryScheduleMs).toEqual([0, 250, 1500, 120_000, 86_400_000]);
    expect(tuned.retryScale).toBe(0.001);
    expect(tuned.behindAfterMs).toBe(5000);
    expect(tuned.backlogRate).toBe(20);
  });

  it("allows no provider base_url overrides and no private ranges for provider calls by default", () => {
    expect(loadConfig({}).providerCalls).toEqual({ baseUrls: [], allowedCidrs: [] });
    const tuned = loadConfig({
      ONEROUTER_PROVIDER_BASE_URLS: "https://stripe-proxy.example.com, http://127.0.0.1:12111/",
      ONEROUTER_PROVIDER_ALLOWED_CIDRS: "10.1.0.0/16,::1",
    }).providerCalls;
    expect(tuned).toEqual({ baseUrls: ["https://stripe-proxy.example.com", "http://127.0.0.1:12111"], allowedCidrs: ["10.1.0.0/16", "::1"] });
  });

  it.each([
    [{ ONEROUTER_PROVIDER_BASE_URLS: "stripe-proxy.example.com" }, "ONEROUTER_PROVIDER_BASE_URLS"],
    [{ ONEROUTER_PROVIDER_BASE_URLS: "ftp://files.example.com" }, "ONEROUTER_PROVIDER_BASE_URLS"],
    [{ ONEROUTER_PROVIDER_BASE_URLS: "https://api.example.com/v1" }, "ONEROUTER_PROVIDER_BASE_URLS"],
    [{ ONEROUTER_PROVIDER_BASE_URLS: "https://user:pw@api.example.com" }, "ONEROUTER_PROVIDER_BASE_URLS"],
    [{ ONEROUTER_PROVIDER_ALLOWED_CIDRS: "10.0.0.0/33" }, "ONEROUTER_PROVIDER_ALLOWED_CIDRS"],
  ])("names the bad provider call variable in %j", (env, variable) => {
    expect(configError(env).variable).toBe(variable);
  });

  it.each([
    [{ ONEROUTER_WEBHOOK_ALLOWED_CIDRS: "10.0.0.0/33" }, "ONEROUTER_WEBHOOK_ALLOWED_CIDRS"],
    [{ ONEROUTER_WEBHOOK_ALLOWED_CIDRS: "intranet" }, "ONEROUTER_WEBHOOK_ALLOWED_CIDRS"],
    [{ ONEROUTER_WEBHOOK_RETRY_SCHEDULE: "0,5x" }, "ONEROUTER_WEBHOOK_RETRY_SCHEDULE"],
    [{ ONEROUTER_WEBHOOK_RETRY_SCHEDULE: "0,5" }, "ONEROUTER_WEBHOOK_RETRY_SCHEDULE"],
    [{ ONEROUTER_WEBHOOK_RETRY_SCHEDULE: "5s,5m" }, "ONEROUTER_WEBHOOK_RETRY_SCHEDULE"],
    [{ ONEROUTER_WEBHOOK_RETRY_SCALE: "0" }, "ONEROUTER_WEBHOOK_RETRY_SCALE"],
    [{ ONEROUTER_WEBHOOK_RETRY_SCALE: "fast" }, "ONEROUTER_WEBHOOK_RETRY_SCALE"],
    [{ ONEROUTER_WEBHOOK_TIMEOUT_MS: "10" }, "ONEROUTER_WEBHOOK_TIMEOUT_MS"],
    [{ ONEROUTER_WEBHOOK_ENDPOINT_CONCURRENCY: "0" }, "ONEROUTER_WEBHOOK_ENDPOINT_CONCURRENCY"],
    [{ ONEROUTER_WEBHOOK_DISABLE_AFTER_MS: "soon" }, "ONEROUTER_WEBHOOK_DISABLE_AFTER_MS"],
    [{ ONEROUTER_WEBHOOK_POLL_MS: "1" }, "ONEROUTER_WEBHOOK_POLL_MS"],
    [{ ONEROUTER_WEBHOOK_BEHIND_AFTER_MS: "100" }, "ONEROUTER_WEBHOOK_BEHIND_AFTER_MS"],
    [{ ONEROUTER_WEBHOOK_BACKLOG_RATE: "0" }, "ONEROUTER_WEBHOOK_BACKLOG_RATE"],
  ])("names the bad webhook delivery variable in %j", (env, variable) => {
    expect(configError(env).variable).toBe(variable);
  });
});
