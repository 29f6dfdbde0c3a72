import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  CreateEndpointResponseSchema,
  DeleteEndpointResponseSchema,
  EndpointStatus,
  GetEndpointResponseSchema,
  ListEndpointsResponseSchema,
  RotateEndpointSecretResponseSchema,
  UpdateEndpointResponseSchema,
  type WebhookService,
} from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import { checkPlanCount, invalidArgument, newId, notFound, paginate, requireCaller, validMetadata } from "@onerouter/core";
import {
  findEndpoint,
  fromJson,
  requireId,
  scopeOf,
  toEndpoint,
  validDescription,
  validEventTypes,
  validUrl,
  type EndpointRow,
} from "../endpoints";
import { newEndpointSecret, sealSecret, type StoredSecret } from "../secrets";
import type { WebhookServiceDeps } from "./deps";

type EndpointMethods = Pick<
  ServiceImpl<typeof WebhookService>,
  "createEndpoint" | "getEndpoint" | "listEndpoints" | "updateEndpoint" | "deleteEndpoint" | "rotateEndpointSecret"
>;

const updatablePaths = ["url", "description", "event_types", "status", "metadata"] as const;

const hourMs = 3600_000;
const defaultOverlapMs = 24 * hourMs;
const maxOverlapMs = 7 * 24 * hourMs;

export function endpointMethods(deps: WebhookServiceDeps): EndpointMethods {
  const { knex, masterKeys } = deps;
  const allowedCidrs = deps.allowedCidrs ?? [];

  return {
    async createEndpoint(req, ctx) {
      const caller = requireCaller(ctx);
      const url = validUrl("url", req.url, caller.environment, allowedCidrs);
      const description = validDescription("description", req.description);
      const eventTypes = validEventTypes("event_types", req.eventTypes);
      const metadata = validMetadata("metadata", req.metadata);
      const id = newId("ep");
      const secret = newEndpointSecret();
      const now = new Date();
      const row = await knex.transaction(async (trx) => {
        if (caller.plan && caller.plan.webhookEndpoints > 0) {
          // Concurrent creations for one tenant take turns, so none passes the count together.
          await trx.raw("select pg_advisory_xact_lock(hashtext(?))", [`webhook_endpoints:${caller.tenantId}`]);
          const counted = (await trx("webhook_endpoints").where({ tenant_id: caller.tenantId }).count({ n: "*" }).first()) as { n: number | string };
          checkPlanCount(caller.plan, "webhook_endpoints", Number(counted.n));
        }
        const [inserted] = (await trx("webhook_endpoints")
          .insert({
            id,
            ...scopeOf(caller),
            url,
            description,
            event_types: JSON.stringify(eventTypes),
            metadata: JSON.stringify(metadata),
            secrets: JSON.stringify([sealSecret(masterKeys, id, secret)]),
            created_at: now,
            updated_at: now,
          })
          .returning("*")) as EndpointRow[];
        return inserted!;
      });
      return create(CreateEndpointResponseSchema, { endpoint: toEndpoint(row), secret });
    },

    async getEndpoint(req, ctx) {
      const caller = requireCaller(ctx);
      const row = await findEndpoint(knex, scopeOf(caller), requireId("id", req.id));
      return create(GetEndpointResponseSchema, { endpoint: toEndpoint(row) });
    },

    async listEndpoints(req, ctx) {
      const caller = requireCaller(ctx);
      const { rows, nextPageToken } = await paginate<EndpointRow>(knex("webhook_endpoints").where(scopeOf(caller)), req);
      return create(ListEndpointsResponseSchema, { endpoints: rows.map(toEndpoint), nextPageToken });
    },

    async updateEndpoint(req, ctx) {
      const caller = requireCaller(ctx);
      const paths = [...new Set(req.updateMask?.paths ?? [])];
      if (paths.length === 0) {
        throw invalidArgument("update_mask", `must name at least one of ${updatablePaths.join(", ")}`);
      }
      for (const path of paths) {
        if (!(updatablePaths as readonly string[]).includes(path)) {
          throw invalidArgument("update_mask", `"${path}" cannot be updated; updatable: ${updatablePaths.join(", ")}`);
        }
      }
      const input = req.endpoint;
      const id = requireId("endpoint.id", input?.id ?? "");
      const patch: Record<string, unknown> = {};
      if (paths.includes("url")) patch.url = validUrl("endpoint.url", input?.url ?? "", caller.environment, allowedCidrs);
      if (paths.includes("description")) patch.description = validDescription("endpoint.description", input?.description ?? "");
      if (paths.includes("event_types")) {
        patch.event_types = JSON.stringify(validEventTypes("endpoint.event_types", input?.eventTypes ?? []));
      }
      if (paths.includes("metadata")) patch.metadata = JSON.stringify(validMetadata("endpoint.metadata", input?.metadata ?? {}));
      const status = paths.includes("status") ? requestedStatus(input?.status ?? EndpointStatus.UNSPECIFIED) : undefined;

      const row = await knex.transaction(async (trx) => {
        const scope = scopeOf(caller);
        const existing = await findEndpoint(trx, scope, id, true);
        // A status change starts the endpoint afresh: enabling a failing
        // endpoint forgets its run of failures, and a customer's choice
        // replaces OneRouter's reason.
        if (status !== undefined && status !== existing.status) {
          Object.assign(patch, { status, disabled_reason: "", failing_since: null });
        }
        const [updated] = (await trx("webhook_endpoints")
          .where({ ...scope, id })
          .update({ ...patch, updated_at: new Date() })
          .returning("*")) as EndpointRow[];
        return updated!;
      });
      // Deliveries held back while the endpoint was not enabled are due now.
      if (status === "enabled") deps.worker?.wake();
      return create(UpdateEndpointResponseSchema, { endpoint: toEndpoint(row) });
    },

    async deleteEndpoint(req, ctx) {
      const caller = requireCaller(ctx);
      const id = requireId("id", req.id);
      // Its deliveries and their attempts go with it.
      const deleted = await knex("webhook_endpoints").where({ ...scopeOf(caller), id }).delete().returning("id");
      if (deleted.length === 0) throw notFound("webhook_endpoint", id);
      return create(DeleteEndpointResponseSchema, {});
    },

    async rotateEndpointSecret(req, ctx) {
      const caller = requireCaller(ctx);
      const id = requireId("id", req.id);
      const overlapMs = req.overlap ? Number(req.overlap.seconds) * 1000 + req.overlap.nanos / 1e6 : 0;
      if (overlapMs < 0) throw invalidArgument("overlap", "must not be negative");
      if (overlapMs > maxOverlapMs) throw invalidArgument("overlap", "must be at most 7 days");
      const previousExpiresAt = new Date(Date.now() + (overlapMs === 0 ? defaultOverlapMs : overlapMs));
      const secret = newEndpointSecret();

      const row = await knex.transaction(async (trx) => {
        const scope = scopeOf(caller);
        const existing = await findEndpoint(trx, scope, id, true);
        // Newest first: the current secret leads. It keeps signing until the
        // overlap ends; anything older stops now.
        const [current] = fromJson<StoredSecret[]>(existing.secrets);
        const secrets = [sealSecret(masterKeys, id, secret)];
        if (current) secrets.push({ ...current, expires_at: previousExpiresAt.toISOString() });
        const [updated] = (await trx("webhook_endpoints")
          .where({ ...scope, id })
          .update({ secrets: JSON.stringify(secrets), updated_at: new Date() })
          .returning("*")) as EndpointRow[];
        return updated!;
      });
      return create(RotateEndpointSecretResponseSchema, {
        endpoint: toEndpoint(row),
        secret,
        previousSecretExpireTime: timestampFromDate(previousExpiresAt),
      });
    },
  };
}

// Customers enable and disable; FAILING is OneRouter's to set.
function requestedStatus(status: EndpointStatus): EndpointRow["status"] {
  if (status === EndpointStatus.ENABLED) return "enabled";
  if (status === EndpointStatus.DISABLED) return "disabled";
  throw invalidArgument("endpoint.status", "must be ENDPOINT_STATUS_ENABLED or ENDPOINT_STATUS_DISABLED");
}
