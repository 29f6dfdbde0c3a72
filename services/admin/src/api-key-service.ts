import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  ApiKeyService,
  CreateApiKeyResponseSchema,
  ListApiKeysResponseSchema,
  RevokeApiKeyResponseSchema,
} from "@onerouter/client/gen/onerouter/admin/v1/api_keys_pb";
import { apiKeyScopes } from "@onerouter/client";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { invalidArgument, remoteAddressKey, requireCaller, type Knex } from "@onerouter/core";
import { createApiKey, listApiKeys, revokeApiKey, toApiKey } from "./api-keys";
import { assertMayRevoke, authorityOf, grantEnvironment, grantExpiry, grantScopes } from "./api-keys-grants";

export function apiKeyService(knex: Knex): Partial<ServiceImpl<typeof ApiKeyService>> {
  return {
    async createApiKey(req, ctx) {
      const caller = requireCaller(ctx);
      const name = req.name.trim();
      if (name === "" || name.length > 100) throw invalidArgument("name", "must be 1 to 100 characters");
      for (const [i, scope] of req.scopes.entries()) {
        if (!apiKeyScopes.includes(scope)) {
          throw invalidArgument(`scopes[${i}]`, `"${scope}" is not a scope; scopes are ${apiKeyScopes.join(", ")}`);
        }
      }
      if (![Environment.UNSPECIFIED, Environment.TEST, Environment.LIVE].includes(req.environment)) {
        throw invalidArgument("environment", "must be ENVIRONMENT_TEST or ENVIRONMENT_LIVE");
      }
      const requestedExpiry = req.expireTime ? timestampDate(req.expireTime) : undefined;
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
  };
}
