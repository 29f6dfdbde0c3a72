import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import {
  ApiKeyService,
  CreateApiKeyResponseSchema,
  ListApiKeysResponseSchema,
  RevokeApiKeyResponseSchema,
} from "@onerouter/client/gen/onerouter/admin/v1/api_keys_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { apiError, invalidArgument, remoteAddressKey, requireCaller, type Knex } from "@onerouter/core";
import { createApiKey, listApiKeys, revokeApiKey, toApiKey } from "./api-keys";

const scopePattern = /^(payments|messaging|webhooks|admin|events):(read|write)$/;

export function apiKeyService(knex: Knex): ServiceImpl<typeof ApiKeyService> {
  return {
    async createApiKey(req, ctx) {
      const caller = requireCaller(ctx);
      const name = req.name.trim();
      if (name === "" || name.length > 100) throw invalidArgument("name", "must be 1 to 100 characters");
      for (const [i, scope] of req.scopes.entries()) {
        if (!scopePattern.test(scope)) {
          throw invalidArgument(`scopes[${i}]`, `"${scope}" is not <payments|messaging|webhooks|admin|events>:<read|write>`);
        }
      }
      const environment = req.environment === Environment.UNSPECIFIED ? caller.environment : req.environment;
      if (environment !== Environment.TEST && environment !== Environment.LIVE) {
        throw invalidArgument("environment", "must be ENVIRONMENT_TEST or ENVIRONMENT_LIVE");
      }
      // A test key must not mint live access.
      if (environment === Environment.LIVE && caller.environment !== Environment.LIVE) {
        throw apiError(Code.PermissionDenied, "ENVIRONMENT_MISMATCH", "only a live key can create live keys");
      }
      const expiresAt = req.expireTime ? timestampDate(req.expireTime) : undefined;
      if (expiresAt && expiresAt.getTime() <= Date.now()) throw invalidArgument("expire_time", "must be in the future");
      const { row, secret } = await createApiKey(knex, {
        tenantId: caller.tenantId,
        environment,
        name,
        scopes: req.scopes,
        expiresAt,
        createdBy: `api_key:${caller.apiKeyId}`,
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
      const row = await revokeApiKey(
        knex,
        { ...caller, actor: `api_key:${caller.apiKeyId}`, ipAddress: ctx.values.get(remoteAddressKey) },
        req.id,
      );
      return create(RevokeApiKeyResponseSchema, { apiKey: toApiKey(row) });
    },
  };
}
