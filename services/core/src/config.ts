import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";

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
  // Copies of each stream this process creates, one per NATS server (k8s runs three).
  natsStreamReplicas: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  // 32 bytes that wrap each tenant's data key; see crypto.ts.
  masterKey?: Buffer;
  // Keys that open what an earlier master key sealed, during a rotation; see master-keys.ts.
  previousMasterKeys: Buffer[];
  rateLimit: { requestsPerSecond: number; burst: number };
  // Failed authentication per client address: a token bucket of failures,
  // and how long (and how many) unknown key hashes are remembered.
  authFailures: { perMinute: number; burst: number; unknownKeyCacheMs: number; unknownKeyCacheSize: number };
  // How long a console session lasts after sign-in.
  sessionTtlHours: number;
  // Proxies whose X-Forwarded-For names the client; other peers are the client.
  trustedProxyCidrs: string[];
  // Browser origins allowed to call the API (CORS), exactly as browsers send them.
  corsOrigins: string[];
  maxRequestBytes: number;
  shutdownGraceMs: number;
  // Per provider account and per process: see routing/circuit-breaker.ts.
  breaker: { failures: number; cooldownMs: number };
  // Budget for one provider call; running out after sending is an ambiguous outcome.
  providerTimeoutMs: number;
  // Background checks of every provider account: see routing/provider-health.ts.
  providerHealth: {
    probeIntervalMs: number;
    // A probe answered slower than this marks the account degraded.
    degradedAfterMs: number;
  };
  // Prices providers publish through APIs: see routing/published-prices.ts.
  priceSync: {
    intervalMs: number;
    // A change of at least this many percent emits pricing.changed.
    changeThresholdPercent: number;
  };
  // Where provider calls may go: see outbound/provider-outbound.ts.
  providerCalls: {
    // Origins an account's settings.base_url may point at; none by default.
    baseUrls: string[];
    // Ranges provider calls may reach although private, loopback, link-local...
    allowedCidrs: string[];
  };
  // Port of the built-in sandbox provider on loopback; 0 picks a free one.
  sandboxPort: number;
  // In the mesh: the secret Envoy's calls carry, set by the gatekeeper (see envoy/README.md).
  meshSecret?: string;
  // In the mesh: where MessagingService is reached by services that send
  // OneRouter's own email through it (admin, gatekeeper).
  messagingUrl?: string;
  // Where OneRouter is reached from outside, e.g. by provider webhooks.
  // Unset: the address the server listens on, known once it listens.
  publicUrl?: string;
  // Outbox events (with their deliveries and attempts) older than this are pruned.
  eventRetentionDays: number;
  // Outbound webhook delivery: see services/webhooks/src/delivery.
  webhookDelivery: {
    // Ranges webhooks may reach although private, loopback, link-local...
    allowedCidrs: string[];
    // Budget for one attempt: resolving, connecting, sending, reading the answer.
    timeoutMs: number;
    // Wait before each attempt; the first is 0 (a delivery is due when created).
    retryScheduleMs: number[];
    // Multiplies every wait of the schedule; tests compress it.
    retryScale: number;
    // In flight at once per process, and to one endpoint.
    concurrency: number;
    endpointConcurrency: number;
    // An endpoint failing without a success for this long is disabled.
    disableAfterMs: number;
    pollMs: number;
    // An endpoint whose deliveries are claimed this long after they were due
    // has a backlog; while other endpoints' deliveries are on time, a process
    // starts at most backlogRate deliveries per second to backlogs.
    behindAfterMs: number;
    backlogRate: number;
  };
}

type Source = Record<string, string | undefined>;

function meshSecret(src: Source): string | undefined {
  const raw = src.ONEROUTER_MESH_SECRET;
  if (raw === undefined || raw === "") return undefined;
  if (raw.length < 32) throw new ConfigError("ONEROUTER_MESH_SECRET", "must be at least 32 characters (try: openssl rand -hex 32)");
  return raw;
}

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

// Comma-separated CIDR ranges such as "10.0.0.0/8,fd00::/8".
function cidrList(src: Source, name: string): string[] {
  const raw = src[name];
  if (raw === undefined || raw.trim() === "") return [];
  return raw.split(",").map((entry) => {
    const cidr = entry.trim();
    const [address = "", prefix, extra] = cidr.split("/");
    const family = isIP(address);
    const bits = family === 4 ? 32 : 128;
    if (family === 0 || extra !== undefined || (prefix !== undefined && (!/^\d+$/.test(prefix) || Number(prefix) > bits))) {
      throw new ConfigError(name, `must be comma-separated CIDR ranges such as 10.0.0.0/8,fd00::/8 (got "${cidr}")`);
    }
    return cidr;
  });
}

// Comma-separated origins such as "https://app.example.com,http://127.0.0.1:12111",
// normalized as browsers send them (no trailing slash).
function originList(src: Source, name: string): string[] {
  const raw = src[name];
  if (raw === undefined || raw.trim() === "") return [];
  return raw.split(",").map((entry) => {
    const text = entry.trim();
    let parsed: URL | undefined;
    try {
      parsed = new URL(text);
    } catch {
      parsed = undefined;
    }
    // An origin and nothing more: no path, query, fragment or credentials.
    const bare = parsed && parsed.href === `${parsed.origin}/` && !text.includes("@");
    if (!parsed || !["http:", "https:"].includes(parsed.protocol) || !bare) {
      throw new ConfigError(name, `must be comma-separated origins such as https://app.example.com,http://127.0.0.1:12111, without a path (got "${text}")`);
    }
    return parsed.origin;
  });
}

const durationUnitsMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

// Comma-separated durations such as "0,5s,5m,2h", as milliseconds.
function durationList(src: Source, name: string, fallback: string): number[] {
  const raw = src[name] || fallback;
  return raw.split(",").map((entry) => {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(entry.trim());
    if (!match || (match[2] === undefined && Number(match[1]) !== 0)) {
      throw new ConfigError(name, `must be comma-separated durations such as ${fallback} (units ms, s, m, h, d; got "${entry.trim()}")`);
    }
    return Math.round(Number(match[1]) * durationUnitsMs[match[2] ?? "ms"]!);
  });
}

function decimal(src: Source, name: string, fallback: number, min: number, max: number): number {
  const raw = src[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+(\.\d+)?$/.test(raw.trim())) throw new ConfigError(name, `must be a number such as 0.5 (got "${raw}")`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max} (got ${value})`);
  return value;
}

function webhookDelivery(src: Source): Config["webhookDelivery"] {
  const retryScheduleMs = durationList(src, "ONEROUTER_WEBHOOK_RETRY_SCHEDULE", "0,5s,5m,30m,2h,5h,10h,10h");
  if (retryScheduleMs[0] !== 0) {
    throw new ConfigError("ONEROUTER_WEBHOOK_RETRY_SCHEDULE", "must start with 0: a delivery's first attempt is immediate");
  }
  return {
    allowedCidrs: cidrList(src, "ONEROUTER_WEBHOOK_ALLOWED_CIDRS"),
    timeoutMs: integer(src, "ONEROUTER_WEBHOOK_TIMEOUT_MS", 15_000, 100, 300_000),
    retryScheduleMs,
    retryScale: decimal(src, "ONEROUTER_WEBHOOK_RETRY_SCALE", 1, 0.000001, 1000),
    concurrency: integer(src, "ONEROUTER_WEBHOOK_CONCURRENCY", 32, 1, 10_000),
    endpointConcurrency: integer(src, "ONEROUTER_WEBHOOK_ENDPOINT_CONCURRENCY", 4, 1, 1000),
    disableAfterMs: integer(src, "ONEROUTER_WEBHOOK_DISABLE_AFTER_MS", 5 * 86_400_000, 1, 365 * 86_400_000),
    pollMs: integer(src, "ONEROUTER_WEBHOOK_POLL_MS", 500, 10, 60_000),
    behindAfterMs: integer(src, "ONEROUTER_WEBHOOK_BEHIND_AFTER_MS", 1000, 300, 3_600_000),
    backlogRate: integer(src, "ONEROUTER_WEBHOOK_BACKLOG_RATE", 100, 1, 100_000),
  };
}

// Comma-separated 32-byte keys in base64.
function base64Keys(src: Source, name: string): Buffer[] {
  const raw = src[name];
  if (raw === undefined || raw.trim() === "") return [];
  return raw.split(",").map((entry, i) => {
    const key = Buffer.from(entry.trim(), "base64");
    if (key.length !== 32) throw new ConfigError(name, `must be comma-separated 32-byte keys in base64 (entry ${i + 1} is not)`);
    return key;
  });
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
  const previousMasterKeys = base64Keys(src, "ONEROUTER_PREVIOUS_MASTER_KEYS");
  if (previousMasterKeys.length > 0 && !masterKey) {
    throw new ConfigError("ONEROUTER_PREVIOUS_MASTER_KEYS", "needs ONEROUTER_MASTER_KEY: the previous keys only open, the current one seals");
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
    natsStreamReplicas: integer(src, "ONEROUTER_NATS_STREAM_REPLICAS", 1, 1, 5),
    logLevel: logLevel as Config["logLevel"],
    masterKey,
    previousMasterKeys,
    rateLimit: {
      requestsPerSecond: integer(src, "ONEROUTER_RATE_LIMIT_RPS", 100, 1, 1_000_000),
      burst: integer(src, "ONEROUTER_RATE_LIMIT_BURST", 200, 1, 1_000_000),
    },
    authFailures: {
      perMinute: integer(src, "ONEROUTER_AUTH_FAILURES_PER_MINUTE", 60, 1, 1_000_000),
      burst: integer(src, "ONEROUTER_AUTH_FAILURES_BURST", 30, 1, 1_000_000),
      unknownKeyCacheMs: integer(src, "ONEROUTER_UNKNOWN_KEY_CACHE_MS", 60_000, 0, 3_600_000),
      unknownKeyCacheSize: integer(src, "ONEROUTER_UNKNOWN_KEY_CACHE_SIZE", 10_000, 0, 10_000_000),
    },
    sessionTtlHours: integer(src, "ONEROUTER_SESSION_TTL_HOURS", 12, 1, 24 * 90),
    trustedProxyCidrs: cidrList(src, "ONEROUTER_TRUSTED_PROXY_CIDRS"),
    corsOrigins: originList(src, "ONEROUTER_CORS_ORIGINS"),
    maxRequestBytes: integer(src, "ONEROUTER_MAX_REQUEST_BYTES", 4 * 1024 * 1024, 1024, 256 * 1024 * 1024),
    shutdownGraceMs: integer(src, "ONEROUTER_SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    breaker: {
      failures: integer(src, "ONEROUTER_BREAKER_FAILURES", 5, 1, 1000),
      cooldownMs: integer(src, "ONEROUTER_BREAKER_COOLDOWN_MS", 30_000, 1, 3_600_000),
    },
    providerTimeoutMs: integer(src, "ONEROUTER_PROVIDER_TIMEOUT_MS", 15_000, 100, 300_000),
    providerHealth: {
      probeIntervalMs: integer(src, "ONEROUTER_PROVIDER_PROBE_INTERVAL_MS", 300_000, 100, 86_400_000),
      degradedAfterMs: integer(src, "ONEROUTER_PROVIDER_DEGRADED_AFTER_MS", 2_000, 1, 300_000),
    },
    priceSync: {
      intervalMs: integer(src, "ONEROUTER_PRICE_SYNC_INTERVAL_MS", 3_600_000, 100, 604_800_000),
      changeThresholdPercent: integer(src, "ONEROUTER_PRICE_CHANGE_THRESHOLD_PERCENT", 5, 0, 1000),
    },
    providerCalls: {
      baseUrls: originList(src, "ONEROUTER_PROVIDER_BASE_URLS"),
      allowedCidrs: cidrList(src, "ONEROUTER_PROVIDER_ALLOWED_CIDRS"),
    },
    sandboxPort: integer(src, "ONEROUTER_SANDBOX_PORT", 0, 0, 65535),
    meshSecret: meshSecret(src),
    messagingUrl: url(src, "ONEROUTER_MESSAGING_URL", ["http", "https"]),
    publicUrl: url(src, "ONEROUTER_PUBLIC_URL", ["https", "http"]),
    eventRetentionDays: integer(src, "ONEROUTER_EVENT_RETENTION_DAYS", 30, 1, 3650),
    webhookDelivery: webhookDelivery(src),
  };
}
