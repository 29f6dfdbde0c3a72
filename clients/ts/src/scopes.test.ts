import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { create, type DescFile, type DescMethod, type DescMethodServerStreaming, type DescMethodUnary, type DescService } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import type { Transport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { idempotencyInterceptor, isMutatingMethod, withInterceptors } from "./interceptors";
import { apiKeyScopes, requiredScope, scopeAreas } from "./scopes";

// Every RPC of every OneRouter service, with the access it must take. A new
// method fails this test until someone decides here, and in its proto's
// `idempotency_level`, whether it reads or writes.
const writes = new Set([
  "onerouter.admin.v1.ApiKeyService/CreateApiKey",
  "onerouter.admin.v1.ApiKeyService/RevokeApiKey",
  "onerouter.admin.v1.ApiKeyService/UpdateApiKey",
  "onerouter.admin.v1.ProviderAccountService/CreateProviderAccount",
  "onerouter.admin.v1.ProviderAccountService/UpdateProviderAccount",
  "onerouter.admin.v1.ProviderAccountService/DeleteProviderAccount",
  "onerouter.admin.v1.ProviderAccountService/TestProviderAccount",
  "onerouter.admin.v1.RoutingService/UpdateRoutingProfile",
  "onerouter.admin.v1.SessionService/SignIn",
  "onerouter.admin.v1.SessionService/SignOut",
  "onerouter.admin.v1.TeamService/UpdateMemberRole",
  "onerouter.admin.v1.TeamService/RemoveMember",
  "onerouter.admin.v1.TeamService/CreateInvitation",
  "onerouter.admin.v1.TeamService/RevokeInvitation",
  "onerouter.admin.v1.TeamService/AcceptInvitation",
  "onerouter.admin.v1.UsageService/UpdatePlan",
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
  "onerouter.admin.v1.AnalyticsService/ListFailovers",
  "onerouter.admin.v1.AnalyticsService/StreamCsvExport",
  "onerouter.admin.v1.ApiKeyService/ListApiKeys",
  "onerouter.admin.v1.AuditLogService/ListAuditLogEntries",
  "onerouter.admin.v1.ProviderAccountService/GetProviderAccount",
  "onerouter.admin.v1.ProviderAccountService/ListProviderAccounts",
  "onerouter.admin.v1.RoutingService/GetRoutingProfile",
  "onerouter.admin.v1.RoutingService/ListDefaultFees",
  "onerouter.admin.v1.RoutingService/ListPriceHistory",
  "onerouter.admin.v1.SessionService/WhoAmI",
  "onerouter.admin.v1.TeamService/ListMembers",
  "onerouter.admin.v1.TeamService/ListInvitations",
  "onerouter.admin.v1.UsageService/GetPlan",
  "onerouter.admin.v1.UsageService/GetUsage",
  "onerouter.admin.v1.UsageService/ListPlans",
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
  "onerouter.webhooks.v1.WebhookService/StreamEvents",
]);

// Writes that change nothing more when repeated (proto `IDEMPOTENT`); the
// other writes leave it `IDEMPOTENCY_UNKNOWN`.
const idempotentWrites = new Set([
  "onerouter.admin.v1.ApiKeyService/RevokeApiKey",
  "onerouter.admin.v1.ApiKeyService/UpdateApiKey",
  "onerouter.admin.v1.ProviderAccountService/UpdateProviderAccount",
  "onerouter.admin.v1.ProviderAccountService/DeleteProviderAccount",
  "onerouter.admin.v1.RoutingService/UpdateRoutingProfile",
  "onerouter.admin.v1.SessionService/SignOut",
  "onerouter.admin.v1.TeamService/UpdateMemberRole",
  "onerouter.admin.v1.TeamService/RemoveMember",
  "onerouter.admin.v1.TeamService/RevokeInvitation",
  "onerouter.admin.v1.UsageService/UpdatePlan",
  "onerouter.webhooks.v1.WebhookService/UpdateEndpoint",
  "onerouter.webhooks.v1.WebhookService/DeleteEndpoint",
]);

// The services of every generated file under gen/onerouter.
async function oneRouterServices(): Promise<DescService[]> {
  const root = fileURLToPath(new URL("./gen/onerouter", import.meta.url));
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

async function oneRouterMethods(): Promise<{ name: string; method: DescMethod }[]> {
  const services = await oneRouterServices();
  return services.flatMap((s) => s.methods.map((method) => ({ name: `${s.typeName}/${method.name}`, method })));
}

// The Idempotency-Key a call of `method` leaves the client with, through a
// transport that answers every call with an empty response.
async function idempotencyKeySent(method: DescMethod): Promise<string | null> {
  let sent: string | null = null;
  const answerEmpty: Transport = {
    async unary(m, _signal, _timeoutMs, header) {
      sent = new Headers(header).get("Idempotency-Key");
      return { stream: false, service: m.parent, method: m, header: new Headers(), trailer: new Headers(), message: create(m.output) };
    },
    async stream(m, _signal, _timeoutMs, header) {
      sent = new Headers(header).get("Idempotency-Key");
      return { stream: true, service: m.parent, method: m, header: new Headers(), trailer: new Headers(), message: (async function* () {})() };
    },
  };
  const transport = withInterceptors(answerEmpty, [idempotencyInterceptor()]);
  if (method.methodKind === "unary") {
    await transport.unary(method as DescMethodUnary, undefined, undefined, undefined, create(method.input), undefined);
  } else if (method.methodKind === "server_streaming") {
    const input = (async function* () {
      yield create(method.input);
    })();
    await transport.stream(method as DescMethodServerStreaming, undefined, undefined, undefined, input, undefined);
  } else {
    throw new Error(`${method.name}: OneRouter has only unary and server-streaming methods`);
  }
  return sent;
}

describe("read or write, per RPC", () => {
  it("is declared in the proto of every method of every service", async () => {
    const methods = await oneRouterMethods();
    expect(methods.length).toBe(writes.size + reads.size);
    for (const { name, method } of methods) {
      const expected = writes.has(name)
        ? idempotentWrites.has(name)
          ? MethodOptions_IdempotencyLevel.IDEMPOTENT
          : MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN
        : reads.has(name)
          ? MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS
          : `undecided ${name}`;
      expect(method.idempotency, name).toBe(expected);
      expect(isMutatingMethod(method), name).toBe(writes.has(name));
    }
  });

  it("decides the scope of every method: write for writes, read for reads", async () => {
    for (const { name, method } of await oneRouterMethods()) {
      const area = method.parent.typeName.split(".")[1]!;
      expect(scopeAreas as readonly string[], name).toContain(area);
      const expected = writes.has(name) ? `${area}:write` : reads.has(name) ? `${area}:read` : `undecided ${name}`;
      expect(requiredScope(method), name).toBe(expected);
      expect(apiKeyScopes, name).toContain(expected);
    }
  });

  it("gives every write, and no read, a fresh Idempotency-Key", async () => {
    const keys = new Set<string>();
    for (const { name, method } of await oneRouterMethods()) {
      const key = await idempotencyKeySent(method);
      if (writes.has(name)) {
        expect(key, name).toMatch(/^[0-9a-f-]{36}$/);
        keys.add(key!);
      } else {
        expect(key, name).toBeNull();
      }
    }
    expect(keys.size).toBe(writes.size);
  });
});
