import { ConnectError } from "@connectrpc/connect";
import { checkNewPassword, createApiKey, createMemberWithPassword, isEmailAddress, MemberExistsError, memberRoles } from "@onerouter/admin";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import type { Config, Contact, Knex, MasterKeyring, MemberRole } from "@onerouter/core";
import { LocalAdminRefusal, type LocalAdminAction } from "./local-admin";
import { eraseContact } from "./erase-contact";
import { rotateMasterKey } from "./master-key";

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

export function operations(deps: OperationDeps): Record<string, LocalAdminAction> {
  return {
    async "api-keys"(args) {
      if (args.env !== "test" && args.env !== "live") throw new LocalAdminRefusal("env must be test or live");
      const { secret, row } = await createApiKey(deps.knex, {
        tenantId: deps.defaultTenantId,
        environment: args.env === "live" ? Environment.LIVE : Environment.TEST,
        name: typeof args.name === "string" && args.name !== "" ? args.name : `CLI ${args.env} key`,
        createdBy: "cli",
      });
      return { id: row.id, secret };
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
    async "master-key/rotate"() {
      return rotateMasterKey(deps.knex, deps.masterKeys, deps.config);
    },
    async "erase-contact"(args) {
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
