import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  CreateProviderAccountResponseSchema,
  DeleteProviderAccountResponseSchema,
  GetProviderAccountResponseSchema,
  ListProviderAccountsResponseSchema,
  ProviderAccountSchema,
  ProviderAccountService,
  TestProviderAccountResponseSchema,
  UpdateProviderAccountResponseSchema,
  type ProviderAccount,
} from "@onerouter/client/gen/onerouter/admin/v1/provider_accounts_pb";
import { Category, ProviderErrorSchema, type ProviderError } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { categoryFromName, inboundWebhookPath, providerHealthMessage, type CircuitBreakers, type HealthCheck, type ProviderHealthStore, type ConnectorRegistry, type ProviderAccountRecord, type ProviderAccountStore, type ProviderAccountWithCredentials, type ProviderDescriptor, type ProviderOutbound, type RoutingProfileStore } from "@onerouter/routing";
import { environmentFromName, environmentName, failedPrecondition, invalidArgument, notFound, paginate, remoteAddressKey, requireCaller, type Caller, type Knex } from "@onerouter/core";
import { recordAudit } from "./audit";
import { requireCategory } from "./categories";

export interface ProviderAccountServiceDeps {
  knex: Knex;
  accounts: ProviderAccountStore;
  routing: RoutingProfileStore;
  // The registered providers: what each needs and how to check an account.
  connectors: Pick<ConnectorRegistry, "providers">;
  // Where OneRouter is reached from outside; provider webhooks point here.
  publicBaseUrl: () => string;
  // Each account's circuit, as the engines' calls left it.
  breakers: Pick<CircuitBreakers, "state">;
  // What the background probes last found of each account.
  health: Pick<ProviderHealthStore, "of">;
  // Which URLs an account's settings may name.
  outbound: Pick<ProviderOutbound, "settingsRefusal">;
}

type StoredAccount = ProviderAccountRecord & { credentialHints: Record<string, string> };

const testTimeoutMs = 10_000;
const updatablePaths = ["display_name", "credentials", "settings", "enabled"] as const;
const settingKeyPattern = /^[a-z][a-z0-9_]{0,63}$/;

export function providerAccountService(deps: ProviderAccountServiceDeps): ServiceImpl<typeof ProviderAccountService> {
  const { knex, accounts, routing, connectors } = deps;
  const baseUrl = () => deps.publicBaseUrl().replace(/\/+$/, "");

  const findProvider = (name: string) => connectors.providers().find((p) => p.name === name);

  function toProviderAccount(account: StoredAccount, health?: HealthCheck): ProviderAccount {
    return create(ProviderAccountSchema, {
      id: account.id,
      environment: environmentFromName(account.environment),
      provider: account.provider,
      category: categoryFromName(account.category),
      displayName: account.displayName,
      credentialHints: account.credentialHints,
      settings: account.settings,
      enabled: account.enabled,
      webhookUrl: baseUrl() + inboundWebhookPath(account.provider, account.id),
      circuitState: deps.breakers.state(account.id),
      ...(health && { health: providerHealthMessage(health) }),
      createTime: timestampFromDate(account.createdAt),
      updateTime: timestampFromDate(account.updatedAt),
    });
  }

  // Resolves to the provider's normalized refusal, or undefined when it
  // accepted the credentials. Provider failures are answers here, not errors.
  async function checkCredentials(account: ProviderAccountWithCredentials): Promise<ProviderError | undefined> {
    const descriptor = findProvider(account.provider);
    if (!descriptor) {
      return providerError(account.provider, "PROVIDER_UNAVAILABLE", `${account.provider} is not available in this deployment`);
    }
    let timer: NodeJS.Timeout | undefined;
    // A provider client that ignores its timeout must not hold the call open.
    const deadline = new Promise<ProviderError>((resolve) => {
      timer = setTimeout(
        () => resolve(providerError(descriptor.name, "PROVIDER_TIMEOUT", `${descriptor.name} did not answer in time`)),
        testTimeoutMs + 1_000,
      );
    });
    // Started inside then() so a synchronous throw is caught like a rejection.
    const check = Promise.resolve()
      .then(() =>
        descriptor.testCredentials({ credentials: account.credentials, settings: account.settings, timeoutMs: testTimeoutMs }),
      )
      .then(
        () => undefined,
        (err: unknown) => normalizeProviderFailure(descriptor.name, err),
      );
    try {
      return await Promise.race([check, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    async createProviderAccount(req, ctx) {
      const caller = requireCaller(ctx);
      const descriptor = findProvider(req.provider);
      if (!descriptor) {
        const known = connectors.providers().map((p) => p.name).join(", ");
        throw invalidArgument("provider", `"${req.provider}" is not a registered provider; known providers: ${known}`);
      }
      const credentials = validCredentials(descriptor, req.credentials);
      const settings = validSettings(req.settings, deps.outbound);
      const displayName = validDisplayName(req.displayName, descriptor.name);
      const account = await knex.transaction(async (trx) => {
        const created = await accounts.create(
          {
            tenantId: caller.tenantId,
            environment: environmentName(caller.environment),
            provider: descriptor.name,
            category: descriptor.category,
            displayName,
            credentials,
            settings,
            enabled: req.enabled ?? true,
          },
          trx,
        );
        await recordAudit(trx, {
          ...auditContext(ctx),
          action: "provider_account.create",
          resourceType: "provider_account",
          resourceId: created.id,
          metadata: { provider: created.provider, display_name: created.displayName },
        });
        return created;
      });
      return create(CreateProviderAccountResponseSchema, { providerAccount: toProviderAccount(account) });
    },

    async getProviderAccount(req, ctx) {
      const caller = requireCaller(ctx);
      const account = await accounts.get(scopeOf(caller), requireId(req.id));
      if (!account) throw notFound("provider_account", req.id);
      const health = await deps.health.of([account.id]);
      return create(GetProviderAccountResponseSchema, { providerAccount: toProviderAccount(account, health.get(account.id)) });
    },

    async listProviderAccounts(req, ctx) {
      const caller = requireCaller(ctx);
      const query = accounts.query(scopeOf(caller));
      if (req.category !== Category.UNSPECIFIED) query.where("category", requireCategory(req.category, "category"));
      if (req.provider !== "") query.where("provider", req.provider);
      const { rows, nextPageToken } = await paginate<{ id: string; created_at: Date }>(query, req);
      const health = await deps.health.of(rows.map((row) => row.id));
      return create(ListProviderAccountsResponseSchema, {
        providerAccounts: rows.map((row) => toProviderAccount(accounts.fromRow(row), health.get(row.id))),
        nextPageToken,
      });
    },

    async updateProviderAccount(req, ctx) {
      const caller = requireCaller(ctx);
      const id = requireId(req.id);
      const paths = req.updateMask?.paths ?? [];
      if (paths.length === 0) {
        throw invalidArgument("update_mask", `must name at least one of ${updatablePaths.join(", ")}`);
      }
      for (const path of paths) {
        if (!(updatablePaths as readonly string[]).includes(path)) {
          throw invalidArgument("update_mask", `"${path}" cannot be updated; updatable: ${updatablePaths.join(", ")}`);
        }
      }
      const scope = scopeOf(caller);
      const existing = await accounts.get(scope, id);
      if (!existing) throw notFound("provider_account", id);

      const changes: Parameters<ProviderAccountStore["update"]>[2] = {};
      if (paths.includes("display_name")) changes.displayName = validDisplayName(req.displayName, existing.provider);
      if (paths.includes("settings")) changes.settings = validSettings(req.settings, deps.outbound);
      if (paths.includes("enabled")) changes.enabled = req.enabled;
      if (paths.includes("credentials")) {
        const descriptor = findProvider(existing.provider);
        if (!descriptor) {
          throw failedPrecondition("PROVIDER_NOT_REGISTERED", `${existing.provider} is not available in this deployment`, {
            provider: existing.provider,
          });
        }
        changes.credentials = validCredentials(descriptor, req.credentials);
      }
      const account = await knex.transaction(async (trx) => {
        const updated = await accounts.update(scope, id, changes, trx);
        if (!updated) throw notFound("provider_account", id);
        await recordAudit(trx, {
          ...auditContext(ctx),
          action: "provider_account.update",
          resourceType: "provider_account",
          resourceId: id,
          metadata: { fields: [...new Set(paths)].join(",") },
        });
        return updated;
      });
      return create(UpdateProviderAccountResponseSchema, { providerAccount: toProviderAccount(account) });
    },

    async deleteProviderAccount(req, ctx) {
      const caller = requireCaller(ctx);
      const id = requireId(req.id);
      const scope = scopeOf(caller);
      await knex.transaction(async (trx) => {
        // Locked so a routing profile update cannot start referencing it
        // between the check below and the delete.
        const row: unknown = await accounts.query(scope).transacting(trx).where({ id }).forUpdate().first();
        if (!row) throw notFound("provider_account", id);
        const account = accounts.fromRow(row);
        const profile = await routing.get({ ...scope, category: account.category }, trx);
        const referenced = [...(profile?.targets ?? []), ...(profile?.rules ?? []).flatMap((r) => r.targets)].some(
          (t) => t.providerAccountId === id,
        );
        if (referenced) {
          throw failedPrecondition(
            "PROVIDER_ACCOUNT_IN_USE",
            `provider account ${id} is a target of the ${account.category} routing profile; remove it there first`,
            { id, category: account.category },
          );
        }
        await accounts.delete(scope, id, trx);
        await recordAudit(trx, {
          ...auditContext(ctx),
          action: "provider_account.delete",
          resourceType: "provider_account",
          resourceId: id,
          metadata: { provider: account.provider },
        });
      });
      return create(DeleteProviderAccountResponseSchema, {});
    },

    async testProviderAccount(req, ctx) {
      const caller = requireCaller(ctx);
      const account = await accounts.getWithCredentials(scopeOf(caller), requireId(req.id));
      if (!account) throw notFound("provider_account", req.id);
      const started = performance.now();
      const failure = await checkCredentials(account);
      const latency = durationFromMs(Math.round(performance.now() - started));
      if (failure) return create(TestProviderAccountResponseSchema, { ok: false, message: failure.message, latency, error: failure });
      return create(TestProviderAccountResponseSchema, {
        ok: true,
        message: `${account.provider} accepted the credentials`,
        latency,
      });
    },
  };
}

function scopeOf(caller: Pick<Caller, "tenantId" | "environment">) {
  return { tenantId: caller.tenantId, environment: environmentName(caller.environment) };
}

function auditContext(ctx: HandlerContext) {
  const caller = requireCaller(ctx);
  return {
    tenantId: caller.tenantId,
    environment: caller.environment,
    actor: caller.actor,
    ipAddress: ctx.values.get(remoteAddressKey),
  };
}

function requireId(id: string): string {
  if (id === "") throw invalidArgument("id", "is required");
  return id;
}

function validDisplayName(requested: string, fallback: string): string {
  const name = requested.trim() || fallback;
  if (name.length > 100) throw invalidArgument("display_name", "must be at most 100 characters");
  return name;
}

// Exactly the provider's credential keys, each with a value.
function validCredentials(descriptor: ProviderDescriptor, credentials: Record<string, string>): Record<string, string> {
  const expected = descriptor.credentialKeys.join(", ");
  for (const key of Object.keys(credentials)) {
    if (!descriptor.credentialKeys.includes(key)) {
      throw invalidArgument(`credentials.${key}`, `is not a ${descriptor.name} credential; expected: ${expected}`);
    }
  }
  const valid: Record<string, string> = {};
  for (const key of descriptor.credentialKeys) {
    const value = credentials[key]?.trim() ?? "";
    if (value === "") throw invalidArgument(`credentials.${key}`, `is required for ${descriptor.name}`);
    valid[key] = value;
  }
  return valid;
}

function validSettings(settings: Record<string, string>, outbound: ProviderAccountServiceDeps["outbound"]): Record<string, string> {
  for (const [key, value] of Object.entries(settings)) {
    if (!settingKeyPattern.test(key)) throw invalidArgument(`settings.${key}`, "keys are lower_snake_case, at most 64 characters");
    if (value.length > 2048) throw invalidArgument(`settings.${key}`, "must be at most 2048 characters");
  }
  // base_url sends the account's calls, credentials included, away from its
  // provider; webhook_url has the built-in sandbox send requests wherever it names.
  const refused = outbound.settingsRefusal(settings);
  if (refused) throw invalidArgument(`settings.${refused.key}`, refused.reason, `${refused.key.toUpperCase()}_NOT_ALLOWED`);
  return { ...settings };
}

function providerError(provider: string, reason: string, message: string, providerCode = ""): ProviderError {
  return create(ProviderErrorSchema, { reason, message, provider, providerCode });
}

// Connectors throw errors carrying details.reason (UPPER_SNAKE) and
// details.providerCode; anything else is reported as the provider being
// unavailable.
function normalizeProviderFailure(provider: string, err: unknown): ProviderError {
  const details = (err as { details?: { reason?: unknown; providerCode?: unknown } } | null | undefined)?.details;
  const reason =
    typeof details?.reason === "string" && /^[A-Z][A-Z0-9_]*$/.test(details.reason) ? details.reason : "PROVIDER_UNAVAILABLE";
  const message = err instanceof Error && err.message !== "" ? err.message : `${provider} did not accept the check`;
  const providerCode = typeof details?.providerCode === "string" ? details.providerCode : "";
  return providerError(provider, reason, message, providerCode);
}
