import { create, fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { RoutingProfileSchema, type RoutingProfile } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import type { Knex } from "knex";
import { TenantCache, type ChangeNotices } from "@onerouter/core";
import { routingChangeChannel } from "./migrations";
import type { EnvironmentName, ProviderCategory } from "./provider-accounts";

// Routing profiles are written by the admin API and read by the engines on
// every call; stored as the RoutingProfile message in proto3 JSON. With
// change notices, what is read outside a transaction is kept until the
// tenant's routing changes.
export class RoutingProfileStore {
  private readonly cache: TenantCache<RoutingProfile | undefined> | undefined;

  constructor(
    private readonly knex: Knex,
    notices?: ChangeNotices,
  ) {
    this.cache = notices && new TenantCache(notices, routingChangeChannel);
  }

  async get(
    scope: { tenantId: string; environment: EnvironmentName; category: ProviderCategory },
    trx: Knex = this.knex,
  ): Promise<RoutingProfile | undefined> {
    if (this.cache && trx === this.knex) {
      return this.cache.get(scope.tenantId, `${scope.tenantId}/${scope.environment}/${scope.category}`, () => this.read(scope, trx));
    }
    return this.read(scope, trx);
  }

  private async read(scope: { tenantId: string; environment: EnvironmentName; category: ProviderCategory }, trx: Knex) {
    const row = (await trx("routing_profiles")
      .where({ tenant_id: scope.tenantId, environment: scope.environment, category: scope.category })
      .first()) as { profile: JsonValue | string } | undefined;
    if (!row) return undefined;
    const value = typeof row.profile === "string" ? (JSON.parse(row.profile) as JsonValue) : row.profile;
    return fromJson(RoutingProfileSchema, value, { ignoreUnknownFields: true });
  }

  async put(
    scope: { tenantId: string; environment: EnvironmentName; category: ProviderCategory },
    profile: RoutingProfile,
    trx: Knex = this.knex,
  ): Promise<RoutingProfile> {
    const stored = create(RoutingProfileSchema, profile);
    await trx("routing_profiles")
      .insert({
        tenant_id: scope.tenantId,
        environment: scope.environment,
        category: scope.category,
        profile: JSON.stringify(toJson(RoutingProfileSchema, stored)),
        updated_at: new Date(),
      })
      .onConflict(["tenant_id", "environment", "category"])
      .merge(["profile", "updated_at"]);
    return stored;
  }
}
