import type { ConnectRouter } from "@connectrpc/connect";
import { AnalyticsService } from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";
import { ApiKeyService } from "@onerouter/client/gen/onerouter/admin/v1/api_keys_pb";
import { AuditLogService } from "@onerouter/client/gen/onerouter/admin/v1/audit_logs_pb";
import { ProviderAccountService } from "@onerouter/client/gen/onerouter/admin/v1/provider_accounts_pb";
import { RoutingService } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { SessionService } from "@onerouter/client/gen/onerouter/admin/v1/session_pb";
import { TeamService } from "@onerouter/client/gen/onerouter/admin/v1/team_pb";
import { UsageService } from "@onerouter/client/gen/onerouter/admin/v1/usage_pb";
import { servicePartially } from "@onerouter/core";
import { analyticsService } from "./analytics/analytics-service";
import { apiKeyService } from "./api-key-service";
import { auditLogService } from "./audit-log-service";
import { providerAccountService, type ProviderAccountServiceDeps } from "./provider-account-service";
import { routingService, type RoutingServiceDeps } from "./routing-service";
import { teamService } from "./team-service";
import { usageService } from "./usage-service";
import { sessionService, type SessionServiceDeps } from "./session-service";
import type { TenantMailer } from "./tenant-mail";

// What the admin room needs from the process that hosts it: storage, the
// routing room's connector registry (providers, published fees) and circuit
// breakers, and OneRouter's own email to tenants' people (absent when no
// messaging room is reachable).
export type AdminDeps = ProviderAccountServiceDeps & RoutingServiceDeps & SessionServiceDeps & { mailer?: TenantMailer };

export function adminRoutes(deps: AdminDeps) {
  return (router: ConnectRouter) => {
    router.service(ApiKeyService, apiKeyService(deps.knex));
    router.service(AuditLogService, auditLogService(deps.knex));
    router.service(ProviderAccountService, providerAccountService(deps));
    router.service(RoutingService, routingService(deps));
    router.service(TeamService, teamService(deps));
    router.service(UsageService, usageService(deps.knex));
    router.service(SessionService, sessionService(deps));
    router.service(AnalyticsService, analyticsService(deps.knex));
  };
}
