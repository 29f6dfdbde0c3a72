import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
// Core's config and folder lock by their own paths: a command the running
// server carries out loads nothing else of core (not its server, logger or telemetry).
import { loadConfig, type Config } from "@onerouter/core/config";
import { dataFolderHolder, DataFolderBusyError, lockDataFolder, type DataFolderHolder } from "@onerouter/core/data-folder-lock";
import { UsageError } from "./cli-usage";
import { callLocalAdmin, LocalAdminRefusal } from "./local-admin";
import type { ApiKeyDescription, TenantDescription } from "./operations";

// The maintenance commands (operations.ts does the work): through the
// embedded server when one holds the data folder, else in this process. The
// database code loads only when this process runs the operation itself.

// The command's flags, strictly: an unknown one is a usage error naming it.
function flags<Options extends NonNullable<ParseArgsConfig["options"]>>(command: string, args: string[], options: Options, positionals = false) {
  try {
    return parseArgs({ args, options, allowPositionals: positionals, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err), command);
  }
}

export async function migrate(args: string[]): Promise<number> {
  if (args.length > 0) throw new UsageError("migrate takes no arguments", "migrate");
  const { applied } = (await runOperation("migrate", "migrate", {})) as { applied: string[] };
  console.log(applied.length ? `applied: ${applied.join(", ")}` : "database is up to date");
  return 0;
}

export async function keys(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const env = (value: string | undefined) => {
    if (value !== "test" && value !== "live") throw new UsageError("--env must be test or live", "keys");
    return value;
  };
  switch (sub) {
    case "create": {
      const { values } = flags("keys", rest, { env: { type: "string" }, name: { type: "string" }, tenant: { type: "string" } });
      const environment = env(values.env);
      const { secret } = (await runOperation("keys create", "api-keys", { ...values, env: environment })) as { secret: string };
      console.log(`Created a ${environment} API key. It is shown once; keep it somewhere safe.`);
      console.log(secret);
      return 0;
    }
    case "list": {
      const { values } = flags("keys", rest, { env: { type: "string" }, all: { type: "boolean" }, tenant: { type: "string" } });
      const { keys: listed } = (await runOperation("keys list", "api-keys/list", { ...values, env: env(values.env) })) as { keys: ApiKeyDescription[] };
      printTable(
        ["ID", "PREFIX", "NAME", "CREATED", "LAST USED", "STATUS"],
        listed.map((k) => [k.id, k.prefix, k.name, k.created, k.lastUsed ?? "never", k.revoked ? `revoked ${k.revoked}` : "active"]),
      );
      return 0;
    }
    case "revoke": {
      const { values, positionals } = flags("keys", rest, { tenant: { type: "string" } }, true);
      if (positionals.length !== 1) throw new UsageError("keys revoke takes the key's id (see keys list)", "keys");
      const key = (await runOperation("keys revoke", "api-keys/revoke", { ...values, id: positionals[0] })) as ApiKeyDescription;
      console.log(`API key ${key.id} (${key.prefix}, ${key.name}) is revoked: calls with it are refused.`);
      return 0;
    }
    default:
      throw new UsageError('the keys command takes "create", "list" or "revoke"', "keys");
  }
}

export async function tenants(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "create": {
      const { values } = flags("tenants", rest, { name: { type: "string" }, plan: { type: "string" } });
      if (!values.name) throw new UsageError("tenants create needs --name", "tenants");
      const tenant = (await runOperation("tenants create", "tenants/create", values)) as TenantDescription;
      console.log(`Created tenant "${tenant.name}" on the ${tenant.plan} plan. Its id:`);
      console.log(tenant.id);
      return 0;
    }
    case "list": {
      if (rest.length > 0) throw new UsageError("tenants list takes no arguments", "tenants");
      const { tenants: all } = (await runOperation("tenants list", "tenants/list", {})) as { tenants: TenantDescription[] };
      console.log(["ID", "PLAN", "STATUS", "CREATED", "NAME"].join("\t"));
      for (const t of all) console.log([t.id, t.plan, t.suspended ? "suspended" : "active", t.created, t.name].join("\t"));
      return 0;
    }
    case "suspend":
    case "resume": {
      if (rest.length !== 1) throw new UsageError(`tenants ${sub} takes the tenant's id`, "tenants");
      const tenant = (await runOperation(`tenants ${sub}`, `tenants/${sub}`, { id: rest[0] })) as TenantDescription;
      console.log(`Tenant ${tenant.id} is ${tenant.suspended ? "suspended: its keys and sessions are refused" : "active"}.`);
      return 0;
    }
    case "set-plan": {
      if (rest.length !== 2) throw new UsageError("tenants set-plan takes the tenant's id and a plan", "tenants");
      const tenant = (await runOperation("tenants set-plan", "tenants/set-plan", { id: rest[0], plan: rest[1] })) as TenantDescription;
      console.log(`Tenant ${tenant.id} is on the ${tenant.plan} plan.`);
      return 0;
    }
    default:
      throw new UsageError('the tenants command takes "create", "list", "suspend", "resume" or "set-plan"', "tenants");
  }
}

export async function members(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== "create") throw new UsageError('the members command takes "create"', "members");
  const { values } = flags("members", rest, { email: { type: "string" }, role: { type: "string" }, name: { type: "string" }, tenant: { type: "string" } });
  if (!values.email) throw new UsageError("--email is required", "members");
  const [{ checkNewPassword }, { memberRoles }] = await Promise.all([import("@onerouter/admin/passwords"), import("@onerouter/admin/member-accounts")]);
  if (!memberRoles.includes(values.role as (typeof memberRoles)[number])) throw new UsageError(`--role must be one of ${memberRoles.join(", ")}`, "members");
  const password = await readPassword(`Password for ${values.email}: `);
  try {
    checkNewPassword("password", password);
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err), "members");
  }
  const created = (await runOperation("members create", "members/create", { ...values, password })) as {
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

export async function masterKey(args: string[]): Promise<number> {
  if (args[0] !== "rotate" || args.length > 1) throw new UsageError('the master-key command takes "rotate"', "master-key");
  const rotation = (await runOperation("master-key rotate", "master-key/rotate", {})) as import("./master-key").Rotation;
  console.log(
    `Every tenant data key (${rotation.tenantDataKeys} re-wrapped) and webhook secret (${rotation.webhookSecrets} endpoints re-sealed) ` +
      `is now sealed under master key ${rotation.keyId}.`,
  );
  const { keysInDataFolder } = await import("./master-key");
  if (rotation.retiredKeyIds.length > 0 && !keysInDataFolder(loadConfig())) {
    console.log(`Nothing is sealed under ${rotation.retiredKeyIds.join(", ")} any more: remove them from ONEROUTER_PREVIOUS_MASTER_KEYS.`);
  }
  return 0;
}

export async function eraseContact(args: string[]): Promise<number> {
  const { values } = flags("erase-contact", args, { email: { type: "string" }, phone: { type: "string" }, tenant: { type: "string" } });
  const erasure = (await runOperation("erase-contact", "erase-contact", values)) as import("./erase-contact").Erasure;
  const both = (counts: Record<string, number>) => `${counts.test} test, ${counts.live} live`;
  console.log(
    `Erased: ${both(erasure.payments)} payments, ${both(erasure.messages)} messages, ${erasure.events} events, ` +
      `${erasure.idempotentResponses} stored answers. Amounts, statuses and ids are kept.`,
  );
  return 0;
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) console.log(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  "));
}

// Runs one of the maintenance operations (operations.ts): through the
// embedded server when one holds the data folder, else here. What the
// command got wrong comes back as a usage error, whoever found it.
async function runOperation(command: string, action: string, args: Record<string, unknown>): Promise<unknown> {
  const config = loadConfig();
  try {
    return await throughServerOrLocked(config, command, action, args);
  } catch (err) {
    if (err instanceof LocalAdminRefusal) throw new UsageError(err.message, command.split(" ")[0]);
    throw err;
  }
}

async function runHere(config: Config, action: string, args: Record<string, unknown>): Promise<unknown> {
  // The embedded database starts in its own thread while this one loads knex and the code that uses it.
  const { startConfiguredPGlite } = await import("./pglite-start");
  const pglite = startConfiguredPGlite(config);
  let loaded;
  try {
    loaded = await Promise.all([import("./database"), import("./migrations"), import("@onerouter/admin/tenants"), import("./master-key"), import("./operations")]);
  } catch (err) {
    // The folder's lock is released once this returns: the database is closed first.
    await pglite?.thread.close();
    throw err;
  }
  const [{ openConfiguredDatabase }, { allMigrations }, { ensureDefaultTenant }, { resolveMasterKeys }, { operations }] = loaded;
  const db = openConfiguredDatabase(config, pglite);
  try {
    const newlyApplied = await db.migrate(allMigrations);
    // A new folder made from the build's template came with its migrations: this command applied those too.
    const applied = db.createdFromTemplate ? ((await db.knex("knex_migrations").orderBy("id").pluck("name")) as string[]) : newlyApplied;
    // Services in the mesh migrate nothing: they find the default tenant, with its sandbox accounts, made here.
    const { tenant, created } = await ensureDefaultTenant(db.knex);
    // Its sandbox accounts come with it, and after a migration; `start` and
    // `migrate` make sure of them every time, so other commands on a folder
    // they have seen spare the transactions that find them there.
    if (created || applied.length > 0 || action === "migrate") {
      const [{ ensureSandboxDefaults }, { ProviderAccountStore }] = await Promise.all([import("@onerouter/sandbox"), import("@onerouter/routing")]);
      await ensureSandboxDefaults(db.knex, new ProviderAccountStore(db.knex, resolveMasterKeys(config)), tenant.id);
    }
    const run = operations({
      knex: db.knex,
      config,
      defaultTenantId: tenant.id,
      masterKeys: resolveMasterKeys(config),
      // Every command here migrates first, so `migrate` reports what that applied.
      migrate: async () => applied,
    })[action]!;
    return await run(args);
  } finally {
    await db.close();
  }
}

// Postgres serves any number of processes. An embedded data folder serves
// one: if a server holds it, the server runs the action; if anything else
// does, the command is refused; otherwise this process takes the folder.
async function throughServerOrLocked(config: Config, command: string, action: string, args: Record<string, unknown>): Promise<unknown> {
  if (config.databaseUrl) return runHere(config, action, args);
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
    return await runHere(config, action, args);
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
