import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  ApiKeyService,
  CreateApiKeyResponseSchema,
  ListApiKeysResponseSchema,
  RevokeApiKeyResponseSchema,
  UpdateApiKeyResponseSchema,
  type ApiKeyLimits,
} from "@onerouter/client/gen/onerouter/admin/v1/api_keys_pb";
import { apiKeyScopes } from "@onerouter/client";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { invalidArgument, remoteAddressKey, requireCaller, validTimestamp, type Knex } from "@onerouter/core";
import { createApiKey, listApiKeys, revokeApiKey, toApiKey, updateApiKey, type KeyLimits } from "./api-keys";
import { assertMayChange, assertMayRevoke, authorityOf, grantEnvironment, grantExpiry, grantScopes } from "./api-keys-grants";

export function apiKeyService(knex: Knex): ServiceImpl<typeof ApiKeyService> {
  return {
    async createApiKey(req, ctx) {
      const caller = requireCaller(ctx);
      const name = validName(req.name);
      const limits = req.limits && validLimits(req.limits);
      for (const [i, scope] of req.scopes.entries()) {
        if (!apiKeyScopes.includes(scope)) {
          throw invalidArgument(`scopes[${i}]`, `"${scope}" is not a scope; scopes are ${apiKeyScopes.join(", ")}`);
        }
      }
      if (![Environment.UNSPECIFIED, Environment.TEST, Environment.LIVE].includes(req.environment)) {
        throw invalidArgument("environment", "must be ENVIRONMENT_TEST or ENVIRONMENT_LIVE");
      }
      const requestedExpiry = req.expireTime ? validTimestamp("expire_time", req.expireTime) : undefined;
      if (requestedExpiry && requestedExpiry.getTime() <= Date.now()) {
        throw invalidArgument("expire_time", "must be in the future");
      }
      const authority = await authorityOf(knex, caller);
      const { row, secret } = await createApiKey(knex, {
        tenantId: caller.tenantId,
        environment: grantEnvironment(authority, req.environment),
        name,
        scopes: grantScopes(authority, [...new Set(req.scopes)]),
        expiresAt: grantExpiry(authority, requestedExpiry),
        limits,
        createdBy: caller.actor,
        ipAddress: ctx.values.get(remoteAddressKey),
      });
      return create(CreateApiKeyResponseSchema, { apiKey: toApiKey(row), secret });
    },

    async listApiKeys(req, ctx) {
      const caller = requireCaller(ctx);
      const { rows, nextPageToken } = await listApiKeys(knex, caller, {
        pageSize: req.pageSize,
        pageToken: req.pageToken,
        showRevoked: req.showRevoked,
      });
      return create(ListApiKeysResponseSchema, { apiKeys: rows.map(toApiKey), nextPageToken });
    },

    async revokeApiKey(req, ctx) {
      const caller = requireCaller(ctx);
      if (req.id === "") throw invalidArgument("id", "is required");
      const authority = await authorityOf(knex, caller);
      const row = await revokeApiKey(
        knex,
        { ...caller, actor: caller.actor, ipAddress: ctx.values.get(remoteAddressKey) },
        req.id,
        (existing) => assertMayRevoke(authority, existing),
      );
      return create(RevokeApiKeyResponseSchema, { apiKey: toApiKey(row) });
    },

    async updateApiKey(req, ctx) {
      const caller = requireCaller(ctx);
      if (req.id === "") throw invalidArgument("id", "is required");
      const paths = new Set(req.updateMask?.paths ?? []);
      for (const path of paths) {
        if (!updatablePaths.includes(path)) throw invalidArgument("update_mask", `"${path}" cannot be updated; updatable: ${updatablePaths.join(", ")}`);
      }
      const changes = (path: string) => paths.size === 0 || paths.has(path);
      const change = {
        name: changes("name") ? validName(req.name) : undefined,
        // Absent limits in a change of limits means none.
        limits: changes("limits") ? validLimits(req.limits ?? { requestsPerSecond: 0, burst: 0, requestsPerDay: 0n }) : undefined,
      };
      const authority = await authorityOf(knex, caller);
      const row = await updateApiKey(
        knex,
        { ...caller, ipAddress: ctx.values.get(remoteAddressKey) },
        req.id,
        change,
        (existing) => assertMayChange(authority, existing),
      );
      return create(UpdateApiKeyResponseSchema, { apiKey: toApiKey(row) });
    },
  };
}

const updatablePaths = ["name", "limits"];

function validName(raw: string): string {
  const name = raw.trim();
  if (name === "" || name.length > 100) throw invalidArgument("name", "must be 1 to 100 characters");
  return name;
}

// Zero sets no limit. A burst needs a rate to refill it; a rate without a
// burst lets through one second's worth at once.
function validLimits(limits: Pick<ApiKeyLimits, "requestsPerSecond" | "burst" | "requestsPerDay">): KeyLimits {
  const { requestsPerSecond, burst, requestsPerDay } = limits;
  if (requestsPerSecond < 0 || requestsPerSecond > maxRate) {
    throw invalidArgument("limits.requests_per_second", `must be 0 (no limit) to ${maxRate}`);
  }
  if (burst < 0 || burst > maxRate) throw invalidArgument("limits.burst", `must be 0 to ${maxRate}`);
  if (burst > 0 && requestsPerSecond === 0) throw invalidArgument("limits.burst", "needs limits.requests_per_second to refill it");
  if (requestsPerDay < 0n || requestsPerDay > maxPerDay) {
    throw invalidArgument("limits.requests_per_day", `must be 0 (no limit) to ${maxPerDay}`);
  }
  return { requestsPerSecond, burst, requestsPerDay: Number(requestsPerDay) };
}

const maxRate = 100_000;
const maxPerDay = 1_000_000_000n;
