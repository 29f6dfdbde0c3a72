import { createApiKey } from "@onerouter/admin";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import type { Config, Knex, MasterKeyring } from "@onerouter/core";
import { LocalAdminRefusal, type LocalAdminAction } from "./local-admin";
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
    async migrate() {
      return { applied: await deps.migrate() };
    },
    async "master-key/rotate"() {
      return rotateMasterKey(deps.knex, deps.masterKeys, deps.config);
    },
  };
}

