import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { EndpointSchema, EndpointStatus, type Endpoint } from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import { environmentFromName, environmentName, failedPrecondition, invalidArgument, notFound, type Caller, type Knex } from "@onerouter/core";
import { validateEndpointUrl } from "./delivery/http-client";
import { isKnownEventTypeFilter } from "./event-types";
import type { StoredSecret } from "./secrets";

// Webhook endpoints as stored, their API shape, and the checks a customer's
// endpoint settings pass before they are stored.

export interface EndpointRow {
  id: string;
  tenant_id: string;
  environment: string;
  url: string;
  description: string;
  event_types: string[] | string;
  status: "enabled" | "disabled" | "failing";
  disabled_reason: string;
  metadata: Record<string, string> | string;
  secrets: StoredSecret[] | string;
  failing_since: Date | null;
  created_at: Date;
  updated_at: Date;
}

// Every query of the webhooks room is scoped by the caller's tenant and environment.
export interface Scope {
  tenant_id: string;
  environment: "test" | "live";
}

export function scopeOf(caller: Caller): Scope {
  return { tenant_id: caller.tenantId, environment: environmentName(caller.environment) };
}

// jsonb arrives parsed from pg and, depending on the driver, as text from PGlite.
export const fromJson = <T>(value: T | string): T => (typeof value === "string" ? (JSON.parse(value) as T) : value);

const statusByName: Record<EndpointRow["status"], EndpointStatus> = {
  enabled: EndpointStatus.ENABLED,
  disabled: EndpointStatus.DISABLED,
  failing: EndpointStatus.FAILING,
};

export function toEndpoint(row: EndpointRow): Endpoint {
  return create(EndpointSchema, {
    id: row.id,
    environment: environmentFromName(row.environment),
    url: row.url,
    description: row.description,
    eventTypes: fromJson(row.event_types),
    status: statusByName[row.status],
    disabledReason: row.disabled_reason,
    metadata: fromJson(row.metadata),
    createTime: timestampFromDate(new Date(row.created_at)),
    updateTime: timestampFromDate(new Date(row.updated_at)),
  });
}

export function requireId(field: string, id: string): string {
  if (id === "") throw invalidArgument(field, "is required");
  return id;
}

// Locked for update when the caller changes the endpoint or hangs deliveries on it.
export async function findEndpoint(knex: Knex, scope: Scope, id: string, forUpdate = false): Promise<EndpointRow> {
  const query = knex("webhook_endpoints").where({ ...scope, id });
  if (forUpdate) query.forUpdate();
  const row = (await query.first()) as EndpointRow | undefined;
  if (!row) throw notFound("webhook_endpoint", id);
  return row;
}

// Deliveries are made to enabled endpoints only: a disabled one is the
// customer's to enable, a failing one is re-enabled by UpdateEndpoint or
// RecoverEndpoint.
export function requireEnabled(row: EndpointRow): void {
  if (row.status === "enabled") return;
  throw failedPrecondition("ENDPOINT_NOT_ENABLED", `webhook endpoint ${row.id} is ${row.status}; enable it first`, {
    id: row.id,
    status: row.status,
  });
}

const maxUrlLength = 2048;
const maxDescriptionLength = 500;

// Where deliveries go: an http(s) URL (https in live) that does not name a
// private, loopback or link-local address. A host name is checked again after
// resolution at every delivery.
export function validUrl(field: string, raw: string, environment: Environment, allowedCidrs: readonly string[]): string {
  const value = raw.trim();
  if (value === "") throw invalidArgument(field, "is required");
  if (value.length > maxUrlLength) throw invalidArgument(field, `must be at most ${maxUrlLength} characters`);
  const problem = validateEndpointUrl(value, environmentName(environment), allowedCidrs);
  if (problem !== undefined) throw invalidArgument(field, problem);
  // Credentials in a URL end up in logs and on screens.
  const url = new URL(value);
  if (url.username !== "" || url.password !== "") throw invalidArgument(field, "must not contain a user name or password");
  return value;
}

export function validDescription(field: string, description: string): string {
  if (description.length > maxDescriptionLength) {
    throw invalidArgument(field, `must be at most ${maxDescriptionLength} characters`);
  }
  return description;
}

// Known types or "<prefix>.*"; duplicates are dropped.
export function validEventTypes(field: string, filters: readonly string[]): string[] {
  for (const [i, filter] of filters.entries()) {
    if (!isKnownEventTypeFilter(filter)) {
      throw invalidArgument(
        `${field}[${i}]`,
        `"${filter.slice(0, 100)}" is not an event type or a prefix of one followed by .*; ListEventTypes names them`,
      );
    }
  }
  return [...new Set(filters)];
}
