import type { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import type { Knex } from "@onerouter/core";
import { newId } from "@onerouter/core/ids";
import { environmentName } from "@onerouter/core/keys";

// Written in the same transaction as the change it records.
export async function recordAudit(
  trx: Knex,
  entry: {
    tenantId: string;
    actor: string;
    action: string;
    resourceType: string;
    resourceId: string;
    environment: Environment;
    ipAddress?: string;
    metadata?: Record<string, string>;
  },
) {
  await trx("audit_log_entries").insert({
    id: newId("aud"),
    tenant_id: entry.tenantId,
    actor: entry.actor,
    action: entry.action,
    resource_type: entry.resourceType,
    resource_id: entry.resourceId,
    environment: environmentName(entry.environment),
    ip_address: entry.ipAddress ?? "",
    metadata: JSON.stringify(entry.metadata ?? {}),
  });
}
