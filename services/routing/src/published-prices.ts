import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { FeeSchema, PriceChangeSchema, type Fee, type PriceChange } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { EventType, PricingEventDataSchema } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { appendEvent, environmentFromName, newId, paginate, type Knex, type Logger, type PageRequest } from "@onerouter/core";
import type { CategoryConnectors, PublishedPrice, RegisteredConnector } from "./connector-registry";
import { PeriodicWork, unlessAborted } from "./periodic-work";
import type { EnvironmentName, ProviderAccountStore, ProviderAccountWithCredentials } from "./provider-accounts";

// Prices providers publish through their APIs (Twilio's Pricing API,
// Vonage's), fetched per account on a schedule. Each destination's history
// keeps a row per change: the first price seen, then every different one
// with the change from the one before. Routing prices an account with its
// latest row ahead of the registered defaults (a tenant's own fees still win).

interface PriceRow {
  id: string;
  provider_account_id: string;
  tenant_id: string;
  environment: EnvironmentName;
  provider: string;
  country: string;
  currency: string;
  price_micros: string | number | bigint;
  previous_price_micros: string | number | bigint | null;
  change_percent: number | null;
  created_at: Date | string;
}

export interface RecordedChange {
  price: PublishedPrice;
  // Undefined for a destination's first price.
  previousMicros?: bigint;
  changePercent?: number;
}

export class PublishedPrices {
  constructor(private readonly knex: Knex) {}

  // Each account's latest published price for the destination, as fees
  // (one SMS segment's price as the fixed part).
  async latestFees(accountIds: readonly string[], country: string): Promise<Map<string, Fee[]>> {
    if (accountIds.length === 0 || country === "") return new Map();
    const rows = (await this.knex("provider_prices")
      .distinctOn("provider_account_id")
      .whereIn("provider_account_id", accountIds)
      .andWhere({ country })
      .orderBy([{ column: "provider_account_id" }, { column: "created_at", order: "desc" }, { column: "id", order: "desc" }])) as PriceRow[];
    return new Map(
      rows.map((r) => [
        r.provider_account_id,
        [create(FeeSchema, { provider: r.provider, currency: r.currency, country: r.country, fixedMicros: BigInt(r.price_micros) })],
      ]),
    );
  }

  // Adds the prices that differ from the destination's latest, in `trx`;
  // returns what changed.
  async record(trx: Knex, account: ProviderAccountWithCredentials, prices: readonly PublishedPrice[], at: Date): Promise<RecordedChange[]> {
    const latest = (await trx("provider_prices")
      .distinctOn("country")
      .where({ provider_account_id: account.id })
      .orderBy([{ column: "country" }, { column: "created_at", order: "desc" }, { column: "id", order: "desc" }])) as PriceRow[];
    const byCountry = new Map(latest.map((r) => [r.country, r]));
    const changes: RecordedChange[] = [];
    for (const price of prices) {
      const before = byCountry.get(price.country);
      const previousMicros = before && before.currency === price.currency ? BigInt(before.price_micros) : undefined;
      if (previousMicros === price.priceMicros) continue;
      // A change of currency starts the destination's history over.
      const changePercent =
        previousMicros === undefined || previousMicros === 0n ? undefined : (Number(price.priceMicros - previousMicros) / Number(previousMicros)) * 100;
      await trx("provider_prices").insert({
        id: newId("prc"),
        provider_account_id: account.id,
        tenant_id: account.tenantId,
        environment: account.environment,
        provider: account.provider,
        country: price.country,
        currency: price.currency,
        price_micros: price.priceMicros.toString(),
        previous_price_micros: previousMicros?.toString() ?? null,
        change_percent: changePercent ?? null,
        created_at: at,
      });
      changes.push({ price, ...(previousMicros !== undefined && { previousMicros }), ...(changePercent !== undefined && { changePercent }) });
    }
    return changes;
  }

  // The tenant's price changes, newest first.
  async history(
    scope: { tenantId: string; environment: EnvironmentName },
    filter: { providerAccountId: string; country: string },
    page: PageRequest,
  ): Promise<{ items: PriceChange[]; nextPageToken: string }> {
    const query = this.knex("provider_prices").where({ tenant_id: scope.tenantId, environment: scope.environment });
    if (filter.providerAccountId) query.andWhere({ provider_account_id: filter.providerAccountId });
    if (filter.country) query.andWhere({ country: filter.country.toUpperCase() });
    const { rows, nextPageToken } = await paginate<PriceRow>(query, page);
    return { items: rows.map(priceChange), nextPageToken };
  }
}

function priceChange(r: PriceRow): PriceChange {
  return create(PriceChangeSchema, {
    providerAccountId: r.provider_account_id,
    provider: r.provider,
    country: r.country,
    currency: r.currency,
    priceMicros: BigInt(r.price_micros),
    ...(r.previous_price_micros !== null && { previousPriceMicros: BigInt(r.previous_price_micros) }),
    ...(r.change_percent !== null && { changePercent: Number(r.change_percent) }),
    fetchTime: timestampFromDate(new Date(r.created_at)),
  });
}

export interface PriceSyncOptions<C extends RegisteredConnector> {
  knex: Knex;
  accounts: ProviderAccountStore;
  prices: PublishedPrices;
  connectors: CategoryConnectors<C>;
  intervalMs: number;
  // A change of at least this many percent (either way) emits pricing.changed.
  changeThresholdPercent: number;
  logger?: Logger;
}

// Fetches every priced provider's prices for each of its enabled accounts on
// a schedule. A price change and its pricing.changed event are written in
// one transaction, so each change beyond the threshold is told once, by the
// process that recorded it.
export class PriceSync<C extends RegisteredConnector> extends PeriodicWork {
  constructor(private readonly options: PriceSyncOptions<C>) {
    super(`syncing ${options.connectors.category} prices`, options.intervalMs, options.logger);
  }

  protected round(signal: AbortSignal): Promise<void> {
    return this.syncAll(signal);
  }

  async syncAll(signal: AbortSignal = new AbortController().signal): Promise<void> {
    const { connectors } = this.options;
    const providers = connectors.pricedProviders();
    if (providers.length === 0) return;
    for (const account of await this.options.accounts.listAllEnabled(connectors.category, providers)) {
      if (signal.aborted) return;
      try {
        await this.sync(account, signal);
      } catch (err) {
        // One account's provider being away leaves its last prices in force.
        this.options.logger?.warn({ err, providerAccountId: account.id, provider: account.provider }, "fetching published prices failed");
      }
    }
  }

  // The changes recorded for the account; undefined when stopped first.
  async sync(account: ProviderAccountWithCredentials, signal: AbortSignal = new AbortController().signal): Promise<RecordedChange[] | undefined> {
    const fetched = await unlessAborted(signal, this.options.connectors.publishedPrices(account));
    if (!fetched) return undefined;
    const { knex, prices, changeThresholdPercent } = this.options;
    return knex.transaction(async (trx) => {
      // One sync of an account at a time, so a change is recorded (and told) once.
      await trx("provider_accounts").where({ id: account.id }).forUpdate().first("id");
      const changes = await prices.record(trx, account, fetched.value, new Date());
      for (const change of changes) {
        if (change.changePercent === undefined || Math.abs(change.changePercent) < changeThresholdPercent) continue;
        await appendEvent(trx, {
          type: EventType.PRICING_CHANGED,
          tenantId: account.tenantId,
          environment: environmentFromName(account.environment),
          data: {
            case: "pricing",
            value: create(PricingEventDataSchema, {
              providerAccountId: account.id,
              provider: account.provider,
              country: change.price.country,
              currency: change.price.currency,
              previousPriceMicros: change.previousMicros,
              priceMicros: change.price.priceMicros,
              changePercent: change.changePercent,
            }),
          },
        });
      }
      return changes;
    });
  }
}
