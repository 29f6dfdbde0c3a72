import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { DescFile, DescService } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { apiKeyScopes, requiredScope, scopeAreas } from "@onerouter/client";

// Every RPC of every OneRouter service, with the access it must take. A new
// method fails this test until someone decides here whether it reads or writes.
const writes = new Set([
  "onerouter.admin.v1.ApiKeyService/CreateApiKey",
  "onerouter.admin.v1.ApiKeyService/RevokeApiKey",
  "onerouter.admin.v1.ProviderAccountService/CreateProviderAccount",
  "onerouter.admin.v1.ProviderAccountService/UpdateProviderAccount",
  "onerouter.admin.v1.ProviderAccountService/DeleteProviderAccount",
  "onerouter.admin.v1.ProviderAccountService/TestProviderAccount",
  "onerouter.admin.v1.RoutingService/UpdateRoutingProfile",
  "onerouter.admin.v1.TeamService/UpdateMemberRole",
  "onerouter.admin.v1.TeamService/RemoveMember",
  "onerouter.admin.v1.TeamService/CreateInvitation",
  "onerouter.admin.v1.TeamService/RevokeInvitation",
  "onerouter.admin.v1.TeamService/AcceptInvitation",
  "onerouter.messaging.v1.MessagingService/SendMessage",
  "onerouter.payments.v1.PaymentService/CreatePayment",
  "onerouter.payments.v1.PaymentService/CapturePayment",
  "onerouter.payments.v1.PaymentService/CancelPayment",
  "onerouter.payments.v1.PaymentService/RefundPayment",
  "onerouter.webhooks.v1.WebhookService/CreateEndpoint",
  "onerouter.webhooks.v1.WebhookService/UpdateEndpoint",
  "onerouter.webhooks.v1.WebhookService/DeleteEndpoint",
  "onerouter.webhooks.v1.WebhookService/RotateEndpointSecret",
  "onerouter.webhooks.v1.WebhookService/SendTestEvent",
  "onerouter.webhooks.v1.WebhookService/ResendEvent",
  "onerouter.webhooks.v1.WebhookService/RecoverEndpoint",
]);
const reads = new Set([
  "onerouter.admin.v1.AnalyticsService/GetOverview",
  "onerouter.admin.v1.AnalyticsService/GetTimeSeries",
  "onerouter.admin.v1.AnalyticsService/CompareProviders",
  "onerouter.admin.v1.AnalyticsService/GetCosts",
  "onerouter.admin.v1.AnalyticsService/ListTopErrors",
  "onerouter.admin.v1.AnalyticsService/ExportCsv",
  "onerouter.admin.v1.ApiKeyService/ListApiKeys",
  "onerouter.admin.v1.AuditLogService/ListAuditLogEntries",
  "onerouter.admin.v1.ProviderAccountService/GetProviderAccount",
  "onerouter.admin.v1.ProviderAccountService/ListProviderAccounts",
  "onerouter.admin.v1.RoutingService/GetRoutingProfile",
  "onerouter.admin.v1.RoutingService/ListDefaultFees",
  "onerouter.admin.v1.TeamService/ListMembers",
  "onerouter.admin.v1.TeamService/ListInvitations",
  "onerouter.admin.v1.UsageService/GetPlan",
  "onerouter.admin.v1.UsageService/GetUsage",
  "onerouter.messaging.v1.MessagingService/GetMessage",
  "onerouter.messaging.v1.MessagingService/ListMessages",
  "onerouter.payments.v1.PaymentService/GetPayment",
  "onerouter.payments.v1.PaymentService/ListPayments",
  "onerouter.payments.v1.PaymentService/GetRefund",
  "onerouter.payments.v1.PaymentService/ListRefunds",
  "onerouter.webhooks.v1.WebhookService/GetEndpoint",
  "onerouter.webhooks.v1.WebhookService/ListEndpoints",
  "onerouter.webhooks.v1.WebhookService/ListEventTypes",
  "onerouter.webhooks.v1.WebhookService/ListEvents",
  "onerouter.webhooks.v1.WebhookService/GetEvent",
  "onerouter.webhooks.v1.WebhookService/ListDeliveryAttempts",
]);

// The services of every generated file under gen/onerouter.
async function oneRouterServices(): Promise<DescService[]> {
  const root = fileURLToPath(new URL("../../../clients/ts/src/gen/onerouter", import.meta.url));
  const files = readdirSync(root, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith("_pb.ts"));
  const services: DescService[] = [];
  for (const file of files) {
    const exports = (await import(path.join(root, file))) as Record<string, unknown>;
    for (const value of Object.values(exports)) {
      const desc = value as Partial<DescFile>;
      if (desc.kind === "file") services.push(...desc.services!);
    }
  }
  return services;
}

describe("scope of each RPC", () => {
  it("is decided for every method of every service, read or write", async () => {
    const services = await oneRouterServices();
    const methods = services.flatMap((s) => s.methods.map((m) => ({ service: s.typeName, method: m.name })));
    expect(methods.length).toBe(writes.size + reads.size);
    for (const { service, method } of methods) {
      const name = `${service}/${method}`;
      const area = service.split(".")[1]!;
      expect(scopeAreas as readonly string[], name).toContain(area);
      const expected = writes.has(name) ? `${area}:write` : reads.has(name) ? `${area}:read` : `undecided ${name}`;
      expect(requiredScope(service, method), name).toBe(expected);
      expect(apiKeyScopes, name).toContain(expected);
    }
  });
});
