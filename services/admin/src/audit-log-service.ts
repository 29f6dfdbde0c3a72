import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  AuditLogEntrySchema,
  AuditLogService,
  ListAuditLogEntriesResponseSchema,
} from "@onerouter/client/gen/onerouter/admin/v1/audit_logs_pb";
import { environmentFromName, environmentName, paginate, requireCaller, whereCreatedIn, type Knex } from "@onerouter/core";

interface AuditRow {
  id: string;
  actor: string;
  action: string;
  resource_type: string;
  resource_id: string;
  environment: string;
  metadata: Record<string, string> | string;
  ip_address: string;
  created_at: Date;
}

export function auditLogService(knex: Knex): ServiceImpl<typeof AuditLogService> {
  return {
    async listAuditLogEntries(req, ctx) {
      const caller = requireCaller(ctx);
      const query = knex("audit_log_entries").where({
        tenant_id: caller.tenantId,
        environment: environmentName(caller.environment),
      });
      if (req.actor) query.where("actor", req.actor);
      if (req.action) query.where("action", req.action);
      if (req.resourceType) query.where("resource_type", req.resourceType);
      whereCreatedIn(query, req.createTime);
      const { rows, nextPageToken } = await paginate<AuditRow>(query, req);
      return create(ListAuditLogEntriesResponseSchema, {
        entries: rows.map((r) =>
          create(AuditLogEntrySchema, {
            id: r.id,
            actor: r.actor,
            action: r.action,
            resourceType: r.resource_type,
            resourceId: r.resource_id,
            environment: environmentFromName(r.environment),
            metadata: typeof r.metadata === "string" ? (JSON.parse(r.metadata) as Record<string, string>) : r.metadata,
            ipAddress: r.ip_address,
            createTime: timestampFromDate(new Date(r.created_at)),
          }),
        ),
        nextPageToken,
      });
    },
  };
}
