import { ConfigError, createLogger, loadConfig, type Logger } from "@onerouter/core";
import { parseArgs } from "node:util";
import { serviceNames, startOneRouter, startServices, type OneRouter, type ServiceName } from "./app";
import { UsageError } from "./cli-usage";
import { devBanner, devConfigDefaults, startDev } from "./dev";
import { limitHeapGrowth } from "./heap-growth";

// `onerouter start` and `onerouter dev`: the server in this process until a signal.

export async function start(args: string[]): Promise<number> {
  let services: string | undefined;
  try {
    services = parseArgs({ args, options: { services: { type: "string" } } }).values.services;
  } catch (err) {
    throw new UsageError((err as Error).message, "start");
  }
  if (services !== undefined) return serve([services]);
  const config = loadConfig();
  limitHeapGrowth(config);
  const logger = createLogger(config.logLevel);
  const app = await startOneRouter(config, logger);
  console.log(startBanner(app));
  await untilSignalled(logger);
  await app.close();
  logger.info("stopped");
  return 0;
}

// `onerouter serve payments,webhooks`: services behind Envoy, as in the mesh.
export async function serve(args: string[]): Promise<number> {
  const services = servicesNamed(args.join(","));
  const config = loadConfig();
  limitHeapGrowth(config);
  const logger = createLogger(config.logLevel);
  const app = await startServices(config, services, { mesh: true }, logger);
  await untilSignalled(logger);
  await app.close();
  logger.info("stopped");
  return 0;
}

// "payments,webhooks" as service names, each known and named once.
function servicesNamed(list: string): ServiceName[] {
  const names = list.split(",").map((name) => name.trim()).filter((name) => name !== "");
  if (names.length === 0) throw new UsageError(`name the services to run: ${serviceNames.join(", ")}`, "serve");
  for (const name of names) {
    if (!(serviceNames as readonly string[]).includes(name)) throw new UsageError(`unknown service "${name}"; services are ${serviceNames.join(", ")}`, "serve");
  }
  return [...new Set(names)] as ServiceName[];
}

export async function dev(args: string[]): Promise<number> {
  if (args.length > 0) throw new UsageError("dev takes no arguments", "dev");
  for (const [name, value] of Object.entries(devConfigDefaults)) process.env[name] ??= value;
  const config = loadConfig();
  limitHeapGrowth(config);
  const logger = createLogger(config.logLevel);
  const basePort = process.env.ONEROUTER_DEV_BASE_PORT ?? "12110";
  if (!/^\d+$/.test(basePort) || Number(basePort) > 65532) {
    throw new ConfigError("ONEROUTER_DEV_BASE_PORT", `must be a port number up to 65532 (got "${basePort}")`);
  }
  const environment = await startDev(config, logger, { basePort: Number(basePort) });
  console.log(startBanner(environment.app));
  console.log(devBanner(environment));
  await untilSignalled(logger);
  await environment.close();
  logger.info("stopped");
  return 0;
}

// Where to go next, once the server listens.
export function startBanner(app: OneRouter): string {
  const url = app.server.url.replace("//0.0.0.0:", "//localhost:").replace("//[::]:", "//localhost:");
  return [
    "",
    `OneRouter is running.`,
    `  API      ${url}   (Connect, gRPC and gRPC-Web)`,
    `  Console  ${url}/console/`,
    `  Docs     ${url}/docs`,
    `  Metrics  ${url}/metrics`,
    `  Stop it with Ctrl+C. API keys: npx onerouter keys create --env test`,
    "",
  ].join("\n");
}

async function untilSignalled(logger: Logger): Promise<void> {
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, "draining in-flight requests");
      resolve();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
