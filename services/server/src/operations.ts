import { ConnectError } from "@connectrpc/connect";
// Admin's and core's functions by their own paths: a command run on the data
// folder loads none of the services, telemetry or NATS behind their barrels.
import { createApiKey, listApiKeys, revokeApiKey, type ApiKeyRow } from "@onerouter/admin/api-keys";
import { recordAudit } from "@onerouter/admin/audit";
import { createMemberWithPassword, MemberExistsError, memberRoles } from "@onerouter/admin/member-accounts";
import { checkNewPassword } from "@onerouter/admin/passwords";
import { planById, plans } from "@onerouter/admin/plans";
import { createTenant, listTenants, setTenantPlan, setTenantSuspended, type TenantRow } from "@onerouter/admin/tenants";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import type { Config, Contact, Knex, MasterKeyring, MemberRole } from "@onerouter/core";
import { environmentFromName } from "@onerouter/core/keys";
import { isEmailAddress } from "@onerouter/core/validation";
import { LocalAdminRefusal, type LocalAdminAction } from "./local-admin";

// What the CLI's maintenance commands do, in one place: the running embedded
// server runs them for the CLI (local-admin.ts), and the CLI runs them itself
// on a database no server holds. Arguments and answers are JSON.

export interface OperationDeps {
  knex: Knex;
  config: Config;
  defaultTenantId: string;
  masterKeys: MasterKeyring;
  migrate(): Promise<string[]>;
}

// The operator's changes to tenants are audited in the tenant's live
// environment, as the operator's.
const operator = { actor: "cli", environment: Environment.LIVE };

export function operations(deps: OperationDeps): Record<string, LocalAdminAction> {
  return {
    async "tenants/create"(args) {
      const name = typeof args.name === "string" ? args.name.trim() : "";
      if (name === "" || name.length > 100) throw new LocalAdminRefusal("--name must be 1 to 100 characters");
      const planId = args.plan === undefined ? "free" : String(args.plan);
      if (!planById(planId)) throw new LocalAdminRefusal(`--plan must be one of ${plans.map((p) => p.id).join(", ")}`);
      const tenant = await deps.knex.transaction(async (trx) => {
        const created = await createTenant(trx, { name, planId });
        await recordAudit(trx, {
          ...operator,
          tenantId: created.id,
          action: "tenant.create",
          resourceType: "tenant",
          resourceId: created.id,
          metadata: { name, plan_id: planId },
        });
        return created;
      });
      // Like every tenant's, its test environment starts with the sandbox providers.
      const [{ ensureSandboxDefaults }, { ProviderAccountStore }] = await Promise.all([import("@onerouter/sandbox"), import("@onerouter/routing")]);
      await ensureSandboxDefaults(deps.knex, new ProviderAccountStore(deps.knex, deps.masterKeys), tenant.id);
      return describeTenant(tenant);
    },
    async "tenants/list"() {
      return { tenants: (await listTenants(deps.knex)).map(describeTenant) };
    },
    async "tenants/suspend"(args) {
      return describeTenant(await refusingBadInput(() => setTenantSuspended(deps.knex, { ...operator, tenantId: tenantIdOf(args) }, true)));
    },
    async "tenants/resume"(args) {
      return describeTenant(await refusingBadInput(() => setTenantSuspended(deps.knex, { ...operator, tenantId: tenantIdOf(args) }, false)));
    },
    async "tenants/set-plan"(args) {
      const planId = String(args.plan ?? "");
      return describeTenant(await refusingBadInput(() => setTenantPlan(deps.knex, { ...operator, tenantId: tenantIdOf(args) }, planId)));
    },
    async "api-keys"(args) {
      if (args.env !== "test" && args.env !== "live") throw new LocalAdminRefusal("env must be test or live");
      const tenantId = typeof args.tenant === "string" && args.tenant !== "" ? args.tenant : deps.defaultTenantId;
      if (!(await deps.knex("tenants").where({ id: tenantId }).first("id"))) throw new LocalAdminRefusal(`there is no tenant ${tenantId}`);
      const { secret, row } = await createApiKey(deps.knex, {
        tenantId,
        environment: args.env === "live" ? Environment.LIVE : Environment.TEST,
        name: typeof args.name === "string" && args.name !== "" ? args.name : `CLI ${args.env} key`,
        createdBy: "cli",
      });
      return { id: row.id, secret };
    },
    async "api-keys/list"(args) {
      if (args.env !== "test" && args.env !== "live") throw new LocalAdminRefusal("--env must be test or live");
      const scope = { tenantId: await tenantOf(deps, args), environment: args.env === "live" ? Environment.LIVE : Environment.TEST };
      const keys: ApiKeyDescription[] = [];
      let pageToken = "";
      do {
        const page = await listApiKeys(deps.knex, scope, { pageSize: 100, pageToken, showRevoked: args.all === true });
        keys.push(...page.rows.map(describeApiKey));
        pageToken = page.nextPageToken;
      } while (pageToken);
      return { keys };
    },
    async "api-keys/revoke"(args) {
      const tenantId = await tenantOf(deps, args);
      const id = typeof args.id === "string" ? args.id : "";
      const found = (await deps.knex("api_keys").where({ id, tenant_id: tenantId }).first("environment")) as { environment: string } | undefined;
      if (!found) throw new LocalAdminRefusal(`tenant ${tenantId} has no API key ${id} (\`onerouter keys list\` lists them)`);
      const scope = { tenantId, environment: environmentFromName(found.environment), actor: "cli" };
      return describeApiKey(await revokeApiKey(deps.knex, scope, id, () => {}));
    },
    async "members/create"(args) {
      const tenantId = await tenantOf(deps, args);
      const { email, role, name, password } = args;
      if (typeof email !== "string" || !isEmailAddress(email.trim())) throw new LocalAdminRefusal("--email must be an email address");
      if (!memberRoles.includes(role as MemberRole)) throw new LocalAdminRefusal(`--role must be one of ${memberRoles.join(", ")}`);
      if (typeof password !== "string") throw new LocalAdminRefusal("a password is required");
      try {
        checkNewPassword("password", password);
        const row = await createMemberWithPassword(deps.knex, {
          tenantId,
          email,
          name: typeof name === "string" ? name.trim() : "",
          role: role as MemberRole,
          password,
          actor: "cli",
        });
        return { id: row.id, email: row.email, role: row.role, tenantId };
      } catch (err) {
        if (err instanceof MemberExistsError) throw new LocalAdminRefusal(err.message);
        if (err instanceof ConnectError) throw new LocalAdminRefusal(err.rawMessage);
        throw err;
      }
    },
    async migrate() {
      return { applied: await deps.migrate() };
    },
    // These two load the rooms they reach into only when run, so the other
    // operations stay quick to load for a CLI command that runs them itself.
    async "master-key/rotate"() {
      const { rotateMasterKey } = await import("./master-key");
      return rotateMasterKey(deps.knex, deps.masterKeys, deps.config);
    },
    async "erase-contact"(args) {
      const { eraseContact } = await import("./erase-contact");
      return eraseContact(deps.knex, await tenantOf(deps, args), contactToErase(args));
    },
  };
}

// The tenant named by --tenant, else the default one.
async function tenantOf(deps: OperationDeps, args: Record<string, unknown>): Promise<string> {
  const tenantId = typeof args.tenant === "string" && args.tenant !== "" ? args.tenant : deps.defaultTenantId;
  if (!(await deps.knex("tenants").where({ id: tenantId }).first("id"))) throw new LocalAdminRefusal(`there is no tenant ${tenantId}`);
  return tenantId;
}

// Exactly one of an email address or an E.164 phone number.
function contactToErase(args: Record<string, unknown>): Contact {
  const { email, phone } = args;
  if ((email === undefined) === (phone === undefined)) throw new LocalAdminRefusal("give either --email or --phone");
  if (email !== undefined) {
    if (typeof email !== "string" || !/^[^\s@]+@[^\s@]+$/.test(email)) throw new LocalAdminRefusal("--email must be an email address");
    return { email };
  }
  if (typeof phone !== "string" || !/^\+[1-9]\d{1,14}$/.test(phone)) throw new LocalAdminRefusal("--phone must be an E.164 number such as +14155550100");
  return { phone };
}

export interface ApiKeyDescription {
  id: string;
  prefix: string;
  name: string;
  env: string;
  created: string;
  lastUsed: string | null;
  revoked: string | null;
}

function describeApiKey(row: ApiKeyRow): ApiKeyDescription {
  const iso = (date: Date | null) => (date ? new Date(date).toISOString() : null);
  return {
    id: row.id,
    prefix: row.prefix,
    name: row.name,
    env: row.environment,
    created: new Date(row.created_at).toISOString(),
    lastUsed: iso(row.last_used_at),
    revoked: iso(row.revoked_at),
  };
}

export interface TenantDescription {
  id: string;
  name: string;
  plan: string;
  suspended: boolean;
  created: string;
}

function describeTenant(tenant: TenantRow): TenantDescription {
  return {
    id: tenant.id,
    name: tenant.name,
    plan: tenant.plan_id,
    suspended: tenant.suspended_at !== null,
    created: new Date(tenant.created_at).toISOString(),
  };
}

function tenantIdOf(args: Record<string, unknown>): string {
  if (typeof args.id !== "string" || args.id === "") throw new LocalAdminRefusal("give the tenant's id");
  return args.id;
}

// A missing tenant or an unknown plan is the command's caller's mistake.
async function refusingBadInput<T>(change: () => Promise<T>): Promise<T> {
  try {
    return await change();
  } catch (err) {
    if (err instanceof ConnectError) throw new LocalAdminRefusal(err.rawMessage);
    throw err;
  }
}
