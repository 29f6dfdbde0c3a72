import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { createApiKey, ensureDefaultTenant } from "@onerouter/admin";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { ConfigError, createLogger, loadConfig, type Config } from "@onerouter/core";
import { allMigrations, openConfiguredDatabase, startOneRouter } from "./app";
import { devBanner, devConfigDefaults, startDev } from "./dev";
import { localAdminPath } from "./local-admin";

const usage = `Usage: onerouter <command>

Commands:
  start                          run every service in one process on PORT (default 8080)
  dev                            start, wired to local Stripe, Razorpay and PayPal emulators
  migrate                        apply database migrations and exit
  keys create --env test|live    create an API key; the key is the last line printed
        [--name NAME]

Configuration comes from environment variables; see the README.`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "help" || command === "--help" || command === "-h") {
    console.log(usage);
    return command ? 0 : 2;
  }
  if (command === "dev") {
    for (const [name, value] of Object.entries(devConfigDefaults)) process.env[name] ??= value;
  }
  const config = loadConfig();
  switch (command) {
    case "start":
      return start(config);
    case "dev":
      return dev(config);
    case "migrate":
      return migrate(config);
    case "keys":
      return keys(config, rest);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

async function start(config: Config): Promise<number> {
  const logger = createLogger(config.logLevel);
  const app = await startOneRouter(config, logger);
  await untilSignalled(logger);
  await app.close();
  logger.info("stopped");
  return 0;
}

async function dev(config: Config): Promise<number> {
  const logger = createLogger(config.logLevel);
  const basePort = process.env.ONEROUTER_DEV_BASE_PORT ?? "12110";
  if (!/^\d+$/.test(basePort) || Number(basePort) > 65532) {
    throw new ConfigError("ONEROUTER_DEV_BASE_PORT", `must be a port number up to 65532 (got "${basePort}")`);
  }
  const environment = await startDev(config, logger, { basePort: Number(basePort) });
  console.log(devBanner(environment));
  await untilSignalled(logger);
  await environment.close();
  logger.info("stopped");
  return 0;
}

async function untilSignalled(logger: ReturnType<typeof createLogger>): Promise<void> {
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, "draining in-flight requests");
      resolve();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}

async function migrate(config: Config): Promise<number> {
  const db = openConfiguredDatabase(config);
  try {
    const applied = await db.migrate(allMigrations);
    console.log(applied.length ? `applied: ${applied.join(", ")}` : "database is up to date");
    return 0;
  } finally {
    await db.close();
  }
}

async function keys(config: Config, args: string[]): Promise<number> {
  const [sub, ...flags] = args;
  if (sub !== "create") throw new UsageError('the keys command takes "create"');
  const { values } = parseArgs({ args: flags, options: { env: { type: "string" }, name: { type: "string" } } });
  if (values.env !== "test" && values.env !== "live") throw new UsageError("--env must be test or live");
  const name = values.name ?? `CLI ${values.env} key`;

  const running = runningEmbeddedServer(config);
  if (running) {
    const res = await fetch(`http://127.0.0.1:${running.port}${localAdminPath}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-onerouter-local-token": running.localToken },
      body: JSON.stringify({ env: values.env, name }),
    });
    if (!res.ok) throw new Error(`the running server refused to create a key (HTTP ${res.status})`);
    const { secret } = (await res.json()) as { secret: string };
    printKey(values.env, secret);
    return 0;
  }
  const db = openConfiguredDatabase(config);
  try {
    await db.migrate(allMigrations);
    const { tenant } = await ensureDefaultTenant(db.knex);
    const { secret } = await createApiKey(db.knex, {
      tenantId: tenant.id,
      environment: values.env === "live" ? Environment.LIVE : Environment.TEST,
      name,
      createdBy: "cli",
    });
    printKey(values.env, secret);
    return 0;
  } finally {
    await db.close();
  }
}

function printKey(env: string, secret: string) {
  console.log(`Created a ${env} API key. It is shown once; keep it somewhere safe.`);
  console.log(secret);
}

function runningEmbeddedServer(config: Config): { port: number; localToken: string } | undefined {
  if (config.databaseUrl) return undefined;
  const file = path.join(config.dataDir, "server.json");
  if (!existsSync(file)) return undefined;
  const info = JSON.parse(readFileSync(file, "utf8")) as { pid?: number; port?: number; localToken?: string };
  if (!info.pid || !info.port || !info.localToken) return undefined;
  try {
    process.kill(info.pid, 0);
  } catch {
    return undefined;
  }
  return { port: info.port, localToken: info.localToken };
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) {
      console.error(`onerouter: invalid configuration: ${err.message}`);
      process.exit(78);
    }
    if (err instanceof UsageError) {
      console.error(`onerouter: ${err.message}\n\n${usage}`);
      process.exit(2);
    }
    console.error(`onerouter: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
