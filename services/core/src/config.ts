import { existsSync, readFileSync } from "node:fs";

// Configuration comes from environment variables, optionally layered over a
// JSON file named by ONEROUTER_CONFIG_FILE. Every value is validated at start;
// a bad one stops start-up with a message that names the variable.

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable} ${message}`);
    this.name = "ConfigError";
  }
}

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  // Set: Postgres through `pg`. Unset: embedded PGlite in dataDir.
  databaseUrl?: string;
  // Set: events travel over NATS JetStream.
  natsUrl?: string;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  // 32 bytes that wrap each tenant's data key; see crypto.ts.
  masterKey?: Buffer;
  rateLimit: { requestsPerSecond: number; burst: number };
  maxRequestBytes: number;
  shutdownGraceMs: number;
  // Per provider account and per process: see routing/circuit-breaker.ts.
  breaker: { failures: number; cooldownMs: number };
  // Budget for one provider call; running out after sending is an ambiguous outcome.
  providerTimeoutMs: number;
  // Port of the built-in sandbox provider on loopback; 0 picks a free one.
  sandboxPort: number;
  // Where OneRouter is reached from outside, e.g. by provider webhooks.
  publicUrl: string;
}

type Source = Record<string, string | undefined>;

function readSource(env: Source): Source {
  const file = env.ONEROUTER_CONFIG_FILE;
  if (!file) return env;
  if (!existsSync(file)) throw new ConfigError("ONEROUTER_CONFIG_FILE", `names a file that does not exist: ${file}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new ConfigError("ONEROUTER_CONFIG_FILE", `is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError("ONEROUTER_CONFIG_FILE", "must hold a JSON object of VARIABLE: value pairs");
  }
  const fromFile: Source = {};
  for (const [key, value] of Object.entries(parsed)) fromFile[key] = String(value);
  // The environment wins over the file, so one deployment file can be tuned per process.
  return { ...fromFile, ...env };
}

function integer(src: Source, name: string, fallback: number, min: number, max: number): number {
  const raw = src[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number (got "${raw}")`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max} (got ${value})`);
  return value;
}

function url(src: Source, name: string, schemes: string[]): string | undefined {
  const raw = src[name];
  if (raw === undefined || raw === "") return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be a URL such as ${schemes[0]}://host:port (got "${raw}")`);
  }
  if (!schemes.includes(parsed.protocol.replace(/:$/, ""))) {
    throw new ConfigError(name, `must use ${schemes.join(" or ")}:// (got "${parsed.protocol}//")`);
  }
  return raw;
}

const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export function loadConfig(env: Source = process.env): Config {
  const src = readSource(env);
  const logLevel = (src.LOG_LEVEL ?? "info").toLowerCase();
  if (!(logLevels as readonly string[]).includes(logLevel)) {
    throw new ConfigError("LOG_LEVEL", `must be one of ${logLevels.join(", ")} (got "${src.LOG_LEVEL}")`);
  }
  let masterKey: Buffer | undefined;
  if (src.ONEROUTER_MASTER_KEY) {
    masterKey = Buffer.from(src.ONEROUTER_MASTER_KEY, "base64");
    if (masterKey.length !== 32) {
      throw new ConfigError("ONEROUTER_MASTER_KEY", "must be 32 bytes in base64 (try: openssl rand -base64 32)");
    }
  }
  const databaseUrl = url(src, "DATABASE_URL", ["postgres", "postgresql"]);
  if (databaseUrl && !masterKey) {
    throw new ConfigError(
      "ONEROUTER_MASTER_KEY",
      "is required with DATABASE_URL: 32 bytes in base64 (try: openssl rand -base64 32)",
    );
  }
  const dataDir = src.ONEROUTER_DATA_DIR ?? "./data";
  if (dataDir.trim() === "") throw new ConfigError("ONEROUTER_DATA_DIR", "must not be empty");
  const port = integer(src, "PORT", 8080, 0, 65535);
  return {
    port,
    host: src.HOST || "0.0.0.0",
    dataDir,
    databaseUrl,
    natsUrl: url(src, "NATS_URL", ["nats", "tls"]),
    logLevel: logLevel as Config["logLevel"],
    masterKey,
    rateLimit: {
      requestsPerSecond: integer(src, "ONEROUTER_RATE_LIMIT_RPS", 100, 1, 1_000_000),
      burst: integer(src, "ONEROUTER_RATE_LIMIT_BURST", 200, 1, 1_000_000),
    },
    maxRequestBytes: integer(src, "ONEROUTER_MAX_REQUEST_BYTES", 4 * 1024 * 1024, 1024, 256 * 1024 * 1024),
    shutdownGraceMs: integer(src, "ONEROUTER_SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    breaker: {
      failures: integer(src, "ONEROUTER_BREAKER_FAILURES", 5, 1, 1000),
      cooldownMs: integer(src, "ONEROUTER_BREAKER_COOLDOWN_MS", 30_000, 1, 3_600_000),
    },
    providerTimeoutMs: integer(src, "ONEROUTER_PROVIDER_TIMEOUT_MS", 15_000, 100, 300_000),
    sandboxPort: integer(src, "ONEROUTER_SANDBOX_PORT", 0, 0, 65535),
    publicUrl: url(src, "ONEROUTER_PUBLIC_URL", ["https", "http"]) ?? `http://localhost:${port}`,
  };
}
