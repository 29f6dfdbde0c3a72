import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { heldScopes, requiredScope } from "@onerouter/client";
import { AnalyticsService } from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";
import { ApiKeyService } from "@onerouter/client/gen/onerouter/admin/v1/api_keys_pb";
import { AuditLogService } from "@onerouter/client/gen/onerouter/admin/v1/audit_logs_pb";
import { ProviderAccountService } from "@onerouter/client/gen/onerouter/admin/v1/provider_accounts_pb";
import { RoutingService } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { SessionService } from "@onerouter/client/gen/onerouter/admin/v1/session_pb";
import { TeamService } from "@onerouter/client/gen/onerouter/admin/v1/team_pb";
import { UsageService } from "@onerouter/client/gen/onerouter/admin/v1/usage_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { MessagingService } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { PaymentService } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { WebhookService } from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import type { Caller, MemberRole } from "@onerouter/core";

// Who may call each RPC. For a member's console session: the least role
// allowed, per environment. Viewers read; developers also make test keys,
// payments, messages, endpoints and test provider accounts; admins also
// manage live keys and credentials, routing and the team; owners also the
// plan. Handlers add rules of their own (who may change an owner's role).
// "public" needs no identity; "signed_in" needs a key or a session, nothing more.
// An RPC missing here is refused to sessions, and fails the matrix's test.
export type MethodAccess = "public" | "signed_in" | { test: MemberRole; live: MemberRole };

const viewer = { test: "viewer", live: "viewer" } as const;
const developer = { test: "developer", live: "developer" } as const;
const admin = { test: "admin", live: "admin" } as const;
const owner = { test: "owner", live: "owner" } as const;
// Test keys and test credentials are a developer's; live ones an admin's.
const developerInTest = { test: "developer", live: "admin" } as const;

export const roleMatrix: Readonly<Record<string, MethodAccess>> = {
  "onerouter.admin.v1.AnalyticsService/GetOverview": viewer,
  "onerouter.admin.v1.AnalyticsService/GetTimeSeries": viewer,
  "onerouter.admin.v1.AnalyticsService/CompareProviders": viewer,
  "onerouter.admin.v1.AnalyticsService/GetCosts": viewer,
  "onerouter.admin.v1.AnalyticsService/ListTopErrors": viewer,
  "onerouter.admin.v1.AnalyticsService/ExportCsv": viewer,
  "onerouter.admin.v1.AnalyticsService/ListFailovers": viewer,
  "onerouter.admin.v1.AnalyticsService/StreamCsvExport": viewer,

  "onerouter.admin.v1.ApiKeyService/ListApiKeys": viewer,
  "onerouter.admin.v1.ApiKeyService/CreateApiKey": developerInTest,
  "onerouter.admin.v1.ApiKeyService/RevokeApiKey": developerInTest,
  "onerouter.admin.v1.ApiKeyService/UpdateApiKey": developerInTest,

  "onerouter.admin.v1.AuditLogService/ListAuditLogEntries": viewer,

  "onerouter.admin.v1.ProviderAccountService/GetProviderAccount": viewer,
  "onerouter.admin.v1.ProviderAccountService/ListProviderAccounts": viewer,
  "onerouter.admin.v1.ProviderAccountService/CreateProviderAccount": developerInTest,
  "onerouter.admin.v1.ProviderAccountService/UpdateProviderAccount": developerInTest,
  "onerouter.admin.v1.ProviderAccountService/DeleteProviderAccount": developerInTest,
  "onerouter.admin.v1.ProviderAccountService/TestProviderAccount": developerInTest,

  "onerouter.admin.v1.RoutingService/GetRoutingProfile": viewer,
  "onerouter.admin.v1.RoutingService/ListDefaultFees": viewer,
  "onerouter.admin.v1.RoutingService/ListPriceHistory": viewer,
  "onerouter.admin.v1.RoutingService/UpdateRoutingProfile": admin,

  "onerouter.admin.v1.SessionService/SignIn": "public",
  "onerouter.admin.v1.SessionService/SignOut": "signed_in",
  "onerouter.admin.v1.SessionService/WhoAmI": "signed_in",

  "onerouter.admin.v1.TeamService/ListMembers": viewer,
  "onerouter.admin.v1.TeamService/ListInvitations": viewer,
  "onerouter.admin.v1.TeamService/UpdateMemberRole": admin,
  "onerouter.admin.v1.TeamService/RemoveMember": admin,
  "onerouter.admin.v1.TeamService/CreateInvitation": admin,
  "onerouter.admin.v1.TeamService/RevokeInvitation": admin,
  "onerouter.admin.v1.TeamService/AcceptInvitation": "public",

  "onerouter.admin.v1.UsageService/GetPlan": viewer,
  "onerouter.admin.v1.UsageService/ListPlans": viewer,
  "onerouter.admin.v1.UsageService/GetUsage": viewer,
  "onerouter.admin.v1.UsageService/UpdatePlan": owner,

  "onerouter.messaging.v1.MessagingService/GetMessage": viewer,
  "onerouter.messaging.v1.MessagingService/ListMessages": viewer,
  "onerouter.messaging.v1.MessagingService/SendMessage": developer,

  "onerouter.payments.v1.PaymentService/GetPayment": viewer,
  "onerouter.payments.v1.PaymentService/ListPayments": viewer,
  "onerouter.payments.v1.PaymentService/GetRefund": viewer,
  "onerouter.payments.v1.PaymentService/ListRefunds": viewer,
  "onerouter.payments.v1.PaymentService/CreatePayment": developer,
  "onerouter.payments.v1.PaymentService/CapturePayment": developer,
  "onerouter.payments.v1.PaymentService/CancelPayment": developer,
  "onerouter.payments.v1.PaymentService/RefundPayment": developer,

  "onerouter.webhooks.v1.WebhookService/GetEndpoint": viewer,
  "onerouter.webhooks.v1.WebhookService/ListEndpoints": viewer,
  "onerouter.webhooks.v1.WebhookService/ListEventTypes": viewer,
  "onerouter.webhooks.v1.WebhookService/ListEvents": viewer,
  "onerouter.webhooks.v1.WebhookService/GetEvent": viewer,
  "onerouter.webhooks.v1.WebhookService/ListDeliveryAttempts": viewer,
  "onerouter.webhooks.v1.WebhookService/StreamEvents": viewer,
  "onerouter.webhooks.v1.WebhookService/CreateEndpoint": developer,
  "onerouter.webhooks.v1.WebhookService/UpdateEndpoint": developer,
  "onerouter.webhooks.v1.WebhookService/DeleteEndpoint": developer,
  "onerouter.webhooks.v1.WebhookService/RotateEndpointSecret": developer,
  "onerouter.webhooks.v1.WebhookService/SendTestEvent": developer,
  "onerouter.webhooks.v1.WebhookService/ResendEvent": developer,
  "onerouter.webhooks.v1.WebhookService/RecoverEndpoint": developer,
};

// Every service OneRouter serves, for what is listed per method.
export const oneRouterServices: readonly DescService[] = [
  AnalyticsService,
  ApiKeyService,
  AuditLogService,
  ProviderAccountService,
  RoutingService,
  SessionService,
  TeamService,
  UsageService,
  MessagingService,
  PaymentService,
  WebhookService,
];

const rank: Record<MemberRole, number> = { viewer: 0, developer: 1, admin: 2, owner: 3 };

export function methodName(method: DescMethod): string {
  return `${method.parent.typeName}/${method.name}`;
}

export function methodAccess(method: DescMethod): MethodAccess | undefined {
  return roleMatrix[methodName(method)];
}

export function roleAllows(role: MemberRole, environment: Environment, access: MethodAccess | undefined): boolean {
  if (access === undefined) return false;
  if (access === "public" || access === "signed_in") return true;
  const least = environment === Environment.LIVE ? access.live : access.test;
  return rank[role] >= rank[least];
}

// The scopes a member's role grants in an environment, which bound the keys
// the member may create. Developers hold no admin:write: a key with it could
// change routing and credentials, which their role may not.
export function roleScopes(role: MemberRole): string[] {
  const reads = ["payments:read", "messaging:read", "webhooks:read", "admin:read"];
  switch (role) {
    case "viewer":
      return reads;
    case "developer":
      return [...reads, "payments:write", "messaging:write", "webhooks:write"];
    case "admin":
    case "owner":
      return [...reads, "payments:write", "messaging:write", "webhooks:write", "admin:write"];
  }
}

// Whether `caller` may call `method`: a session by its role, a key by its scopes.
export function callerMayCall(caller: Caller, method: DescMethod): boolean {
  const access = methodAccess(method);
  if (access === "public" || access === "signed_in") return true;
  if (caller.member) return roleAllows(caller.member.role, caller.environment, access);
  return heldScopes(caller.scopes).includes(requiredScope(method));
}

// Every RPC `caller` may call, as "package.Service/Method".
export function permittedMethods(caller: Caller): string[] {
  return oneRouterServices.flatMap((service) => service.methods.filter((m) => callerMayCall(caller, m)).map(methodName));
}
