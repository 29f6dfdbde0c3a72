import type { Fee } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import type { Logger } from "@onerouter/core";
import type { ConnectorContext } from "./connector-kit";
import type { ProviderCategory } from "./provider-accounts";
import type { ProviderCallMetrics } from "./provider-call-metrics";
import { underOutboundRules } from "./provider-calls";
import type { ProviderOutbound } from "./provider-outbound";
import type { ProviderDescriptor } from "./providers";

// Where a provider declares itself: its connector, the fees it publishes and
// how its accounts' settings become a call's settings. Each room lists its
// registrations in `connectors/index.ts`; the registry holds every room's, so
// the engines and the admin API read providers and fees from one place.

// What every connector has, whatever its category.
export interface RegisteredConnector {
  readonly name: string;
  readonly credentialKeys: readonly string[];
  // Throws when the provider rejects the credentials or cannot be reached.
  testCredentials(ctx: ConnectorContext): Promise<void>;
}

// The settings calls with an account use, from those it stores. `accountId`
// is absent when credentials are checked before the account exists.
export type AccountSettings = (stored: Record<string, string>, accountId: string | undefined, outbound: ProviderOutbound) => Record<string, string>;

// A provider's price for one destination, as its pricing API publishes it.
export interface PublishedPrice {
  // ISO 3166-1 alpha-2.
  country: string;
  // ISO 4217, upper case.
  currency: string;
  // Millionths of the currency's major unit per unit sent (an SMS segment).
  priceMicros: bigint;
}

export interface ConnectorRegistration<C extends RegisteredConnector> {
  connector: C;
  defaultFees: readonly Fee[];
  // Absent: calls use the stored settings as they are.
  settings?: AccountSettings;
  // Where the provider publishes its prices through an API: fetches them
  // with the account (its SDK, as every call). Absent: the fee table stands.
  publishedPrices?: (ctx: ConnectorContext) => Promise<PublishedPrice[]>;
}

export interface ConnectorRegistryOptions {
  outbound: ProviderOutbound;
  // Budget for one provider call.
  providerTimeoutMs: number;
  logger?: Logger;
  // Where the routed calls of every category are counted and timed.
  metrics?: ProviderCallMetrics;
}

export class ConnectorRegistry {
  private readonly categories = new Map<ProviderCategory, CategoryConnectors<RegisteredConnector>>();

  constructor(private readonly options: ConnectorRegistryOptions) {}

  // Registers one category's connectors; what comes back is that category's
  // engine's view of them.
  register<C extends RegisteredConnector>(category: ProviderCategory, registrations: readonly ConnectorRegistration<C>[]): CategoryConnectors<C> {
    if (this.categories.has(category)) throw new Error(`the ${category} connectors are registered already`);
    const connectors = new CategoryConnectors(category, registrations, this.options);
    this.categories.set(category, connectors);
    return connectors;
  }

  // For the admin API: what each provider needs and how to check an account.
  providers(): ProviderDescriptor[] {
    return [...this.categories.values()].flatMap((c) => c.descriptors());
  }

  defaultFees(category: ProviderCategory): Fee[] {
    return [...(this.categories.get(category)?.defaultFees ?? [])];
  }
}

interface PriceSource {
  readonly name: string;
  fetch(ctx: ConnectorContext): Promise<PublishedPrice[]>;
}

// One category's registered connectors, each under the outbound rules.
export class CategoryConnectors<C extends RegisteredConnector> {
  readonly defaultFees: readonly Fee[];
  readonly timeoutMs: number;
  readonly metrics: ProviderCallMetrics | undefined;
  private readonly registrations: Map<string, { connector: C; settings?: AccountSettings; pricing?: PriceSource }>;
  private readonly outbound: ProviderOutbound;

  constructor(
    readonly category: ProviderCategory,
    registrations: readonly ConnectorRegistration<C>[],
    options: ConnectorRegistryOptions,
  ) {
    this.outbound = options.outbound;
    this.timeoutMs = options.providerTimeoutMs;
    this.metrics = options.metrics;
    this.defaultFees = registrations.flatMap((r) => r.defaultFees);
    this.registrations = new Map(
      registrations.map((r) => [
        r.connector.name,
        {
          connector: underOutboundRules(r.connector, options.logger),
          settings: r.settings,
          ...(r.publishedPrices && { pricing: underOutboundRules({ name: r.connector.name, fetch: r.publishedPrices }, options.logger) }),
        },
      ]),
    );
  }

  // The providers whose prices come from their pricing APIs.
  pricedProviders(): string[] {
    return [...this.registrations].filter(([, r]) => r.pricing).map(([name]) => name);
  }

  // The prices the account's provider publishes for it now.
  async publishedPrices(account: Parameters<CategoryConnectors<C>["context"]>[0]): Promise<PublishedPrice[]> {
    const pricing = this.registrations.get(account.provider)?.pricing;
    if (!pricing) throw new Error(`${account.provider} publishes no prices through an API`);
    return pricing.fetch(this.context(account));
  }

  get(provider: string): C | undefined {
    return this.registrations.get(provider)?.connector;
  }

  require(provider: string): C {
    const connector = this.get(provider);
    if (!connector) throw new Error(`no ${this.category} connector named ${provider}`);
    return connector;
  }

  // The context of a call with an account.
  context(account: { id: string; provider: string; credentials: Record<string, string>; settings: Record<string, string> }): ConnectorContext {
    const settings = this.settings(account.provider, account.settings, account.id);
    return {
      credentials: account.credentials,
      settings,
      timeoutMs: this.timeoutMs,
      transport: this.outbound.transport(account.settings, settings),
    };
  }

  descriptors(): ProviderDescriptor[] {
    return [...this.registrations.values()].map(({ connector }) => ({
      name: connector.name,
      category: this.category,
      credentialKeys: connector.credentialKeys,
      testCredentials: (ctx) => {
        const settings = this.settings(connector.name, ctx.settings, undefined);
        return connector.testCredentials({ ...ctx, settings, transport: this.outbound.transport(ctx.settings, settings) });
      },
    }));
  }

  private settings(provider: string, stored: Record<string, string>, accountId: string | undefined): Record<string, string> {
    const resolve = this.registrations.get(provider)?.settings;
    return resolve ? resolve(stored, accountId, this.outbound) : stored;
  }
}
