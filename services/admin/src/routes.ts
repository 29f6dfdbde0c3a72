import type { ConnectRouter } from "@connectrpc/connect";
import { AnalyticsService } from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";
import { ApiKeyService } from "@onerouter/client/gen/onerouter/admin/v1/api_keys_pb";
import { AuditLogService } from "@onerouter/client/gen/onerouter/admin/v1/audit_logs_pb";
import { ProviderAccountService } from "@onerouter/client/gen/onerouter/admin/v1/provider_accounts_pb";
import { RoutingService } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { TeamService } from "@onerouter/client/gen/onerouter/admin/v1/team_pb";
import { UsageService } from "@onerouter/client/gen/onerouter/admin/v1/usage_pb";
import { servicePartially, type Knex } from "@onerouter/core";
import { apiKeyService } from "./api-key-service";
import { auditLogService } from "./audit-log-service";

export function adminRoutes(knex: Knex) {
  return (router: ConnectRouter) => {
    router.service(ApiKeyService, apiKeyService(knex));
    router.service(AuditLogService, auditLogService(knex));
    servicePartially(router, ProviderAccountService, {});
    servicePartially(router, RoutingService, {});
    servicePartially(router, TeamService, {});
    servicePartially(router, UsageService, {});
    servicePartially(router, AnalyticsService, {});
  };
}
