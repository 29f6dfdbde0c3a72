import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { checkNewPassword, ensureDefaultTenant, memberRoles } from "@onerouter/admin";
import {
  ConfigError,
  createLogger,
  dataFolderHolder,
  DataFolderBusyError,
  loadConfig,
  lockDataFolder,
  type Config,
  type DataFolderHolder,
  type MemberRole,
} from "@onerouter/core";
import { ProviderAccountStore } from "@onerouter/routing";
import { ensureSandboxDefaults } from "@onerouter/sandbox";
import { allMigrations, openConfiguredDatabase, serviceNames, startOneRouter, startServices, type ServiceName } from "./app";
import { devBanner, devConfigDefaults, startDev } from "./dev";
import type { Erasure } from "./erase-contact";
import { callLocalAdmin, LocalAdminRefusal } from "./local-admin";
import { keysInDataFolder, resolveMasterKeys, type Rotation } from "./master-key";
import { operations, type TenantDescription } from "./operations";

const usage = `Usage: onerouter <command>

Commands:
  start                          run every service in one process on PORT (default 8080)
        [--services A,B]             or only these, as in the mesh (see serve)
  serve SERVICE[,SERVICE...]     run services behind Envoy on PORT (default 8080): payments,
                                 messaging, webhooks, admin, gatekeeper, and the workers
                                 webhook-dispatcher and outbox-relay; with DATABASE_URL the
                                 schema comes from \`onerouter migrate\`
  dev                            start, wired to local Stripe, Razorpay and PayPal emulators
  migrate                        apply database migrations, create the default tenant, and exit
  keys create --env test|live    create an API key; the key is the last line printed
        [--name NAME] [--tenant ID]  (default: the default tenant)
  members create --email ADDRESS create a member who signs in to the console; the password is
        --role owner|admin|developer|viewer
        [--name NAME] [--tenant ID]  asked on the terminal, or read from standard input
  master-key rotate              re-seal every tenant data key and webhook secret under the
                                 current master key (embedded: under a new one), while serving
  tenants create --name NAME     create a tenant (default plan: free); its id is the last line
        [--plan free|pro|enterprise]
  tenants list                   list tenants with their plan and standing
  tenants suspend ID             refuse every call of the tenant's keys and sessions; nothing
                                 is deleted
  tenants resume ID              accept them again
  tenants set-plan ID PLAN       move the tenant to another plan
  erase-contact --email ADDRESS  erase a person's contact data from payments, messages and
        | --phone +E164          events; amounts, statuses and ids stay
        [--tenant ID]            (default: the default tenant)

With an embedded data folder, these commands go through the server that
holds the folder, if one runs.

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
      return start(config, rest);
    case "serve":
      return serve(config, rest.join(","));
    case "dev":
      return dev(config);
    case "migrate":
      return migrate(config);
    case "keys":
      return keys(config, rest);
    case "tenants":
      return tenants(config, rest);
    case "members":
      return members(config, rest);
    case "master-key":
      return masterKey(config, rest);
    case "erase-contact":
      return eraseContactCommand(config, rest);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

async function start(config: Config, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { services: { type: "string" } } });
  if (values.services !== undefined) return serve(config, values.services);
  const logger = createLogger(config.logLevel);
  const app = await startOneRouter(config, logger);
  await untilSignalled(logger);
  await app.close();
  logger.info("stopped");
  return 0;
}

async function serve(config: Config, list: string): Promise<number> {
  const services = servicesNamed(list);
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
  if (names.length === 0) throw new UsageError(`name the services to run: ${serviceNames.join(", ")}`);
  for (const name of names) {
    if (!(serviceNames as readonly string[]).includes(name)) throw new UsageError(`unknown service "${name}"; services are ${serviceNames.join(", ")}`);
  }
  return [...new Set(names)] as ServiceName[];
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
  const answer = await throughServerOrLocked(config, "migrate", "migrate", {}, async () => {
    const db = openConfiguredDatabase(config);
    try {
      const applied = await db.migrate(allMigrations);
      // Services in the mesh migrate nothing: they find the default tenant, with its sandbox accounts, made here.
      const { tenant } = await ensureDefaultTenant(db.knex);
      await ensureSandboxDefaults(db.knex, new ProviderAccountStore(db.knex, resolveMasterKeys(config)), tenant.id);
      return { applied };
    } finally {
      await db.close();
    }
  });
  const { applied } = answer as { applied: string[] };
  console.log(applied.length ? `applied: ${applied.join(", ")}` : "database is up to date");
  return 0;
}

async function keys(config: Config, args: string[]): Promise<number> {
  const [sub, ...flags] = args;
  if (sub !== "create") throw new UsageError('the keys command takes "create"');
  const { values } = parseArgs({ args: flags, options: { env: { type: "string" }, name: { type: "string" }, tenant: { type: "string" } } });
  if (values.env !== "test" && values.env !== "live") throw new UsageError("--env must be test or live");
  const { secret } = (await runOperation(config, "keys create", "api-keys", { env: values.env, name: values.name, tenant: values.tenant })) as {
    secret: string;
  };
  console.log(`Created a ${values.env} API key. It is shown once; keep it somewhere safe.`);
  console.log(secret);
  return 0;
}

async function tenants(config: Config, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "create": {
      const { values } = parseArgs({ args: rest, options: { name: { type: "string" }, plan: { type: "string" } } });
      if (!values.name) throw new UsageError("tenants create needs --name");
      const tenant = (await runOperation(config, "tenants create", "tenants/create", values)) as TenantDescription;
      console.log(`Created tenant "${tenant.name}" on the ${tenant.plan} plan. Its id:`);
      console.log(tenant.id);
      return 0;
    }
    case "list": {
      if (rest.length > 0) throw new UsageError("tenants list takes no arguments");
      const { tenants: all } = (await runOperation(config, "tenants list", "tenants/list", {})) as { tenants: TenantDescription[] };
      console.log(["ID", "PLAN", "STATUS", "CREATED", "NAME"].join("\t"));
      for (const t of all) console.log([t.id, t.plan, t.suspended ? "suspended" : "active", t.created, t.name].join("\t"));
      return 0;
    }
    case "suspend":
    case "resume": {
      if (rest.length !== 1) throw new UsageError(`tenants ${sub} takes the tenant's id`);
      const tenant = (await runOperation(config, `tenants ${sub}`, `tenants/${sub}`, { id: rest[0] })) as TenantDescription;
      console.log(`Tenant ${tenant.id} is ${tenant.suspended ? "suspended: its keys and sessions are refused" : "active"}.`);
      return 0;
    }
    case "set-plan": {
      if (rest.length !== 2) throw new UsageError("tenants set-plan takes the tenant's id and a plan");
      const tenant = (await runOperation(config, "tenants set-plan", "tenants/set-plan", { id: rest[0], plan: rest[1] })) as TenantDescription;
      console.log(`Tenant ${tenant.id} is on the ${tenant.plan} plan.`);
      return 0;
    }
    default:
      throw new UsageError('the tenants command takes "create", "list", "suspend", "resume" or "set-plan"');
  }
}

async function members(config: Config, args: string[]): Promise<number> {
  const [sub, ...flags] = args;
  if (sub !== "create") throw new UsageError('the members command takes "create"');
  const { values } = parseArgs({
    args: flags,
    options: { email: { type: "string" }, role: { type: "string" }, name: { type: "string" }, tenant: { type: "string" } },
  });
  if (!values.email) throw new UsageError("--email is required");
  if (!memberRoles.includes(values.role as MemberRole)) throw new UsageError(`--role must be one of ${memberRoles.join(", ")}`);
  const password = await readPassword(`Password for ${values.email}: `);
  try {
    checkNewPassword("password", password);
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const created = (await runOperation(config, "members create", "members/create", { ...values, password })) as {
    id: string;
    email: string;
    role: string;
    tenantId: string;
  };
  console.log(`Created ${created.role} ${created.email} (${created.id}) in tenant ${created.tenantId}; they can sign in to the console now.`);
  return 0;
}

// Asked on the terminal without echo; else the first line of standard input.
async function readPassword(prompt: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) {
    let text = "";
    for await (const chunk of input) text += (chunk as Buffer).toString("utf8");
    return text.split(/\r?\n/)[0] ?? "";
  }
  process.stderr.write(prompt);
  input.setRawMode(true);
  input.resume();
  return new Promise((resolve, reject) => {
    let typed = "";
    const done = (outcome: () => void) => {
      input.setRawMode(false);
      input.pause();
      input.off("data", onData);
      process.stderr.write("\n");
      outcome();
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString("utf8")) {
        if (char === "\r" || char === "\n") return done(() => resolve(typed));
        if (char === "\u0003") return done(() => reject(new UsageError("cancelled")));
        if (char === "\u007f" || char === "\b") typed = typed.slice(0, -1);
        else typed += char;
      }
    };
    input.on("data", onData);
  });
}

async function masterKey(config: Config, args: string[]): Promise<number> {
  if (args[0] !== "rotate" || args.length > 1) throw new UsageError('the master-key command takes "rotate"');
  const rotation = (await runOperation(config, "master-key rotate", "master-key/rotate", {})) as Rotation;
  console.log(
    `Every tenant data key (${rotation.tenantDataKeys} re-wrapped) and webhook secret (${rotation.webhookSecrets} endpoints re-sealed) ` +
      `is now sealed under master key ${rotation.keyId}.`,
  );
  if (rotation.retiredKeyIds.length > 0 && !keysInDataFolder(config)) {
    console.log(`Nothing is sealed under ${rotation.retiredKeyIds.join(", ")} any more: remove them from ONEROUTER_PREVIOUS_MASTER_KEYS.`);
  }
  return 0;
}

async function eraseContactCommand(config: Config, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { email: { type: "string" }, phone: { type: "string" }, tenant: { type: "string" } } });
  const erasure = (await runOperation(config, "erase-contact", "erase-contact", values)) as Erasure;
  const both = (counts: Record<string, number>) => `${counts.test} test, ${counts.live} live`;
  console.log(
    `Erased: ${both(erasure.payments)} payments, ${both(erasure.messages)} messages, ${erasure.events} events, ` +
      `${erasure.idempotentResponses} stored answers. Amounts, statuses and ids are kept.`,
  );
  return 0;
}

// Runs one of the maintenance operations (operations.ts): through the
// embedded server when one holds the data folder, else here.
async function runOperation(config: Config, command: string, action: string, args: Record<string, unknown>): Promise<unknown> {
  return refusedAsUsage(() =>
    throughServerOrLocked(config, command, action, args, async () => {
      const db = openConfiguredDatabase(config);
      try {
        await db.migrate(allMigrations);
        const { tenant } = await ensureDefaultTenant(db.knex);
        const run = operations({
          knex: db.knex,
          config,
          defaultTenantId: tenant.id,
          masterKeys: resolveMasterKeys(config),
          migrate: () => db.migrate(allMigrations),
        })[action]!;
        return await run(args);
      } finally {
        await db.close();
      }
    }),
  );
}

// What the command got wrong, whether the server or this process found it.
async function refusedAsUsage<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof LocalAdminRefusal) throw new UsageError(err.message);
    throw err;
  }
}

// Postgres serves any number of processes. An embedded data folder serves
// one: if a server holds it, the server runs the action; if anything else
// does, the command is refused; otherwise this process takes the folder.
async function throughServerOrLocked(
  config: Config,
  command: string,
  action: string,
  args: Record<string, unknown>,
  here: () => Promise<unknown>,
): Promise<unknown> {
  if (config.databaseUrl) return here();
  let lock;
  try {
    lock = lockDataFolder(config.dataDir, command);
  } catch (err) {
    if (!(err instanceof DataFolderBusyError)) throw err;
    const server = await runningServer(config, err.holder);
    if (!server) throw err;
    return callLocalAdmin(server, action, args);
  }
  try {
    return await here();
  } finally {
    lock.release();
  }
}

// The embedded server holding the folder, waiting for it to listen if it is starting.
async function runningServer(config: Config, holder: DataFolderHolder): Promise<{ port: number; localToken: string } | undefined> {
  if (holder.command !== "server") return undefined;
  const file = path.join(config.dataDir, "server.json");
  const deadline = Date.now() + 30_000;
  for (;;) {
    const info = readRunFile(file);
    if (info.pid === holder.pid && info.port && info.localToken) return { port: info.port, localToken: info.localToken };
    if (Date.now() > deadline || !dataFolderHolder(config.dataDir)) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function readRunFile(file: string): { pid?: number; port?: number; localToken?: string } {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as { pid?: number; port?: number; localToken?: string };
  } catch {
    // Not written yet, or being written.
    return {};
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) {
      console.error(`onerouter: invalid configuration: ${err.message}`);
      process.exit(78);
    }
    if (err instanceof DataFolderBusyError) {
      console.error(`onerouter: ${err.message}`);
      process.exit(75);
    }
    if (err instanceof UsageError) {
      console.error(`onerouter: ${err.message}\n\n${usage}`);
      process.exit(2);
    }
    console.error(`onerouter: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
