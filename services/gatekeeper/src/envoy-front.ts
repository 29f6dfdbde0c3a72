import { create, type DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { csvDownloadPrefix, oneRouterServices, planCounts } from "@onerouter/admin";
import { AnalyticsService } from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";
import { apiError, environmentFromName, type Knex } from "@onerouter/core";
import { Admission } from "./admission";
import { keyLimitsOf, type AuthenticatedCaller } from "./authenticator";
import type { CallLimits } from "./call-limits";
import {
  HeaderValueOption_HeaderAppendAction as AppendAction,
  HeaderValueOptionSchema,
  HeaderValueSchema,
  type HeaderValue,
  type HeaderValueOption,
} from "./gen/envoy/config/core/v3/base_pb";
import {
  Authorization,
  CheckResponseSchema,
  type CheckRequest,
  type CheckResponse,
} from "./gen/envoy/service/auth/v3/external_auth_pb";
import {
  RateLimitResponse_Code as LimitCode,
  RateLimitResponseSchema,
  RateLimitService,
  type RateLimitRequest,
  type RateLimitResponse,
} from "./gen/envoy/service/ratelimit/v3/rls_pb";
import { publicServices, type GatekeeperDeps } from "./interceptor";
import { identityHeaderNames, identityHeaders } from "./mesh-identity";

// The gatekeeper as Envoy asks it (see envoy/README.md): ext_authz's Check
// answers who is calling (the same Admission as the in-process interceptor)
// and ShouldRateLimit spends the caller's rates and quotas (the same
// CallLimits, its buckets in a store every replica shares).

const methodsByPath: ReadonlyMap<string, DescMethod> = new Map(
  oneRouterServices.flatMap((service) => service.methods.map((method) => [`/${service.typeName}/${method.name}`, method])),
);

// A CSV download (GET /exports/<report>.csv) is StreamCsvExport over plain
// HTTP: admitted, authorized and limited as that method.
const csvDownloadPath = `/${AnalyticsService.typeName}/${AnalyticsService.method.streamCsvExport.name}`;

// The method a request path calls; the query of Connect's GET is not part of it.
function rpcPath(path: string): string {
  const withoutQuery = path.split("?")[0] ?? "";
  return withoutQuery.startsWith(csvDownloadPrefix) ? csvDownloadPath : withoutQuery;
}

function headerValues(headers: Headers | Map<string, string>): HeaderValue[] {
  const values: HeaderValue[] = [];
  headers.forEach((value, key) => values.push(create(HeaderValueSchema, { key, value })));
  return values;
}

// Headers that replace any of the same name.
function setHeaders(headers: Headers | Map<string, string>): HeaderValueOption[] {
  return headerValues(headers).map((header) =>
    create(HeaderValueOptionSchema, { header, appendAction: AppendAction.OVERWRITE_IF_EXISTS_OR_ADD, keepEmptyValue: true }),
  );
}

// An allowed call: the caller's identity (or none), the client's address
// and the mesh secret replace whatever the request carried under those names.
function allowed(caller: AuthenticatedCaller | undefined, meshSecret: string, clientAddress?: string): CheckResponse {
  const headers = identityHeaders(caller, meshSecret, clientAddress);
  return create(CheckResponseSchema, {
    status: { code: 0 },
    httpResponse: {
      case: "okResponse",
      value: {
        headers: setHeaders(headers),
        headersToRemove: identityHeaderNames.filter((name) => !headers.has(name)),
      },
    },
  });
}

// The headers a refusal carries to every kind of client: a Connect error's
// JSON body and HTTP status, and grpc-status (with its details) that Envoy
// puts on the answer to a gRPC or gRPC-Web call; and the error's own, such
// as Retry-After.
function refusalHeaders(error: ConnectError): Headers {
  const headers = setTrailerStatus(new Headers(), error);
  headers.set("content-type", "application/json");
  return headers;
}

function denied(error: ConnectError): CheckResponse {
  return create(CheckResponseSchema, {
    status: { code: error.code, message: error.rawMessage },
    httpResponse: {
      case: "deniedResponse",
      value: {
        status: { code: codeToHttpStatus(error.code) },
        headers: setHeaders(refusalHeaders(error)),
        body: new TextDecoder().decode(errorToJsonBytes(error, undefined)),
      },
    },
  });
}

// The caller a rate-limit descriptor names, with what its limits depend on
// (its tenant's plan, an API key's own limits), remembered for `ttlMs` so
// that a busy caller costs one lookup per interval.
export class DescribedCallers {
  private readonly known = new Map<string, { caller: AuthenticatedCaller | undefined; until: number }>();

  constructor(
    private readonly knex: Knex,
    private readonly ttlMs = 5_000,
    private readonly maxSize = 10_000,
  ) {}

  async callerOf(tenantId: string, environment: string, actor: string): Promise<AuthenticatedCaller | undefined> {
    const id = `${tenantId}\u0000${environment}\u0000${actor}`;
    const now = Date.now();
    const known = this.known.get(id);
    if (known && known.until > now) return known.caller;
    const caller = await this.lookUp(tenantId, environment, actor);
    this.known.delete(id);
    this.known.set(id, { caller, until: now + this.ttlMs });
    if (this.known.size > this.maxSize) this.known.delete(this.known.keys().next().value!);
    return caller;
  }

  private async lookUp(tenantId: string, environment: string, actor: string): Promise<AuthenticatedCaller | undefined> {
    const base = { tenantId, environment: environmentFromName(environment), actor, scopes: [] };
    const apiKeyId = /^api_key:(.+)$/.exec(actor)?.[1];
    if (apiKeyId) {
      const row = (await this.knex("api_keys")
        .join("tenants", "tenants.id", "api_keys.tenant_id")
        .where({ "api_keys.id": apiKeyId, "api_keys.tenant_id": tenantId })
        .first("api_keys.requests_per_second", "api_keys.burst", "api_keys.requests_per_day", "tenants.plan_id")) as
        | { requests_per_second: number; burst: number; requests_per_day: number | string; plan_id: string }
        | undefined;
      return row && { ...base, apiKeyId, plan: planCounts(row.plan_id), keyLimits: keyLimitsOf(row) };
    }
    const tenant = (await this.knex("tenants").where({ id: tenantId }).first("plan_id")) as { plan_id: string } | undefined;
    return tenant && { ...base, plan: planCounts(tenant.plan_id) };
  }
}

// The client's address as Envoy reports it: the downstream peer, or with
// xff_num_trusted_hops the address the trusted proxies forwarded.
function clientAddressOf(req: CheckRequest): string {
  const address = req.attributes?.source?.address?.address;
  return address?.case === "socketAddress" ? address.value.address : "";
}

// Whether a rate-limit request names no caller: only the client-address descriptor.
function anonymous(req: RateLimitRequest): boolean {
  return req.descriptors.every((descriptor) => !descriptor.entries.some((entry) => entry.key === "tenant_id"));
}

function overLimit(response: RateLimitResponse, error: ConnectError): RateLimitResponse {
  response.overallCode = LimitCode.OVER_LIMIT;
  response.responseHeadersToAdd = headerValues(refusalHeaders(error));
  response.rawBody = errorToJsonBytes(error, undefined);
  return response;
}

export interface EnvoyFrontDeps {
  gatekeeper: GatekeeperDeps;
  // Its CallLimits' rates must be in a store the replicas share.
  callers: DescribedCallers;
  // What an allowed call carries to the services (ONEROUTER_MESH_SECRET).
  meshSecret: string;
}

export function envoyFrontRoutes({ gatekeeper, callers, meshSecret }: EnvoyFrontDeps): (router: ConnectRouter) => void {
  const admission = new Admission(gatekeeper);

  async function check(req: CheckRequest): Promise<CheckResponse> {
    const http = req.attributes?.request?.http;
    const path = rpcPath(http?.path ?? "");
    if (publicServices.has(path.split("/")[1] ?? "")) return allowed(undefined, meshSecret);
    const method = methodsByPath.get(path);
    if (!http || !method) {
      return denied(apiError(Code.Unimplemented, "METHOD_NOT_FOUND", `no method ${path.slice(0, 200)} in OneRouter's API`, { path: path.slice(0, 200) }));
    }
    // Envoy's pseudo-headers (":path") are not headers a Headers may hold.
    const header = new Headers(Object.entries(http.headers).filter(([name]) => !name.startsWith(":")));
    const remoteAddress = clientAddressOf(req);
    try {
      if (admission.isPublic(method)) return allowed(await admission.chargingFailures(remoteAddress, async () => undefined), meshSecret, remoteAddress);
      const caller = await admission.identify({ method, header, remoteAddress, ownOrigin: `${http.scheme || "http"}://${http.host}` });
      return allowed(caller, meshSecret, remoteAddress);
    } catch (err) {
      return denied(ConnectError.from(err));
    }
  }

  async function shouldRateLimit(req: RateLimitRequest): Promise<RateLimitResponse> {
    const response = create(RateLimitResponseSchema, { overallCode: LimitCode.OK });
    for (const descriptor of req.descriptors) {
      const entries = new Map(descriptor.entries.map((entry) => [entry.key, entry.value]));
      const [tenantId, environment, actor, rpc] = ["tenant_id", "environment", "actor", "rpc"].map((key) => entries.get(key));
      const address = entries.get("remote_address");
      // A call without a caller (signing in) is limited by its address's
      // failed authentications, which the service charges after Check.
      if (address !== undefined) {
        const refusal = anonymous(req) ? await admission.refusalOfFailures(address) : undefined;
        if (refusal) return overLimit(response, refusal);
        continue;
      }
      if (!tenantId || !environment || !actor || !rpc) continue;
      const caller = await callers.callerOf(tenantId, environment, actor);
      if (!caller) continue;
      try {
        const headers = await gatekeeper.limits.admit(caller, rpcPath(rpc).slice(1));
        response.responseHeadersToAdd = headerValues(headers);
      } catch (err) {
        const error = ConnectError.from(err);
        // The store out of reach is no answer at all: Envoy refuses the call.
        if (error.code !== Code.ResourceExhausted) throw error;
        return overLimit(response, error);
      }
    }
    return response;
  }

  return (router) => {
    router.service(Authorization, { check });
    router.service(RateLimitService, { shouldRateLimit });
  };
}
